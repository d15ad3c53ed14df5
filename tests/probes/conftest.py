"""Shared fixtures for the probes' tests."""

from __future__ import annotations

import pytest

from tests.probes.synthetic import write_dataset

PROBE_LAYER = 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A probe trained on synthetic features (16 dimensions, layer 2) for "test/model"."""
    from probes.dataset import Dataset
    from probes.training import TrainOptions, train_probe

    directory = tmp_path_factory.mktemp("data")
    write_dataset(directory, runs=30, seed=5, layer=PROBE_LAYER)
    return train_probe(Dataset.load(directory), "test/model", TrainOptions(l2=1.0))[0]
