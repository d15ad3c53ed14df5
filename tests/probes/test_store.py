"""probes.store: probes per base model under ENGRAM_HOME/probes/<model>/."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probes.dataset import Dataset
from probes.files import ProbeFormatError
from probes.store import CARD, ProbeStore, model_slug
from probes.training import TrainOptions, train_probe
from tests.probes.synthetic import POOLING, write_dataset


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    write_dataset(directory, runs=30, seed=3)
    return train_probe(Dataset.load(directory), "Org/Model-1", TrainOptions(l2=1.0))[0]


def test_model_slugs_are_readable_and_safe():
    assert model_slug("Qwen/Qwen2.5-Coder-0.5B-Instruct") == "Qwen--Qwen2.5-Coder-0.5B-Instruct"
    odd = model_slug("/home/me/models/my model")
    assert "/" not in odd and " " not in odd and odd.startswith("home--me--models--my_model-")
    assert model_slug("/a/b") != model_slug("a/b")


def test_the_store_lives_under_engram_home(isolated_home):
    store = ProbeStore.for_home()
    assert store.probe_dir("Org/M") == isolated_home / "probes" / "Org--M" / "probe"
    assert store.data_dir("Org/M") == isolated_home / "probes" / "Org--M" / "data"


def test_round_trip_gives_identical_scores_and_card(probe, tmp_path):
    store = ProbeStore(tmp_path)
    path = store.save(probe)
    assert sorted(p.name for p in path.iterdir()) == [
        "prefix.json", "prefix.safetensors", "probe.json", "step_probe.json",
        "step_probe.safetensors",
    ]  # fmt: skip
    loaded = store.load("Org/Model-1")
    x = np.random.default_rng(0).normal(size=(6, 16))
    np.testing.assert_array_equal(loaded.step.score(x), probe.step.score(x))
    np.testing.assert_array_equal(loaded.prefix.scores(x), probe.prefix.scores(x))
    assert loaded.card == probe.card
    assert loaded.pooling.name == POOLING


def test_no_probe_is_none(tmp_path):
    assert ProbeStore(tmp_path).load("Org/Other") is None


def test_saving_again_replaces_the_probe_whole(probe, tmp_path):
    store = ProbeStore(tmp_path)
    store.save(probe)
    store.save(probe)
    assert [p.name for p in store.model_dir("Org/Model-1").iterdir()] == ["probe"]


def test_a_card_for_another_model_is_refused(probe, tmp_path):
    store = ProbeStore(tmp_path)
    path = store.save(probe)
    card = json.loads((path / CARD).read_text())
    (path / CARD).write_text(json.dumps({**card, "model_id": "Org/Impostor"}))
    with pytest.raises(ProbeFormatError, match="Impostor"):
        store.load("Org/Model-1")


def test_an_unknown_card_version_is_refused(probe, tmp_path):
    store = ProbeStore(tmp_path)
    path = store.save(probe)
    card = json.loads((path / CARD).read_text())
    (path / CARD).write_text(json.dumps({**card, "format_version": 7}))
    with pytest.raises(ProbeFormatError, match="format_version"):
        store.load("Org/Model-1")
