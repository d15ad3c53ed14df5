"""probes.step_probe (and the logistic solver under it) on synthetic features with known
answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probes.files import ProbeFormatError
from probes.metrics import auroc
from probes.step_probe import CONFIG, StepProbe
from tests.probes.synthetic import gaussian_steps


def test_separable_classes_give_auroc_near_one():
    rng = np.random.default_rng(0)
    x, y = gaussian_steps(rng, 300, 60, shift=6.0, dim=64)
    probe = StepProbe.fit(x, y)
    tx, ty = gaussian_steps(rng, 300, 60, shift=6.0, dim=64)
    assert auroc(probe.score(tx), ty) > 0.99


def test_shuffled_labels_give_auroc_near_one_half():
    rng = np.random.default_rng(1)
    x, y = gaussian_steps(rng, 300, 100, shift=6.0, dim=64)
    probe = StepProbe.fit(x, rng.permutation(y))
    tx, ty = gaussian_steps(rng, 1000, 300, shift=6.0, dim=64)
    assert abs(auroc(probe.score(tx), ty) - 0.5) < 0.08


def test_class_weights_keep_a_rare_class_from_being_ignored():
    rng = np.random.default_rng(2)
    x, y = gaussian_steps(rng, 950, 50, shift=2.0, dim=8)
    balanced = StepProbe.fit(x, y, balance=True)
    plain = StepProbe.fit(x, y, balance=False)
    bad = x[y == 1]
    # Balanced: a typical hallucinated step scores above one half; unweighted it does not.
    assert np.median(balanced.score(bad)) > 0.5
    assert np.median(plain.score(bad)) < np.median(balanced.score(bad))


def test_stronger_l2_shrinks_the_weights():
    rng = np.random.default_rng(3)
    x, y = gaussian_steps(rng, 100, 100, shift=1.5, dim=16)
    weak = StepProbe.fit(x, y, l2=1e-3)
    strong = StepProbe.fit(x, y, l2=10.0)
    assert np.linalg.norm(strong.head.weight) < 0.2 * np.linalg.norm(weak.head.weight)


def test_fit_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        StepProbe.fit(np.ones((4, 3)), np.zeros(4))


def test_scores_of_the_wrong_dimension_are_refused():
    rng = np.random.default_rng(4)
    probe = StepProbe.fit(*gaussian_steps(rng, 20, 20, shift=3.0, dim=5))
    with pytest.raises(ValueError, match="5"):
        probe.score(np.ones(6))


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    x, y = gaussian_steps(rng, 50, 50, shift=2.0, dim=12)
    probe = StepProbe.fit(x, y, l2=0.3)
    probe.save(tmp_path)
    loaded = StepProbe.load(tmp_path)
    np.testing.assert_array_equal(loaded.score(x), probe.score(x))
    assert loaded.l2 == 0.3
    assert not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.pt"))


def test_an_unknown_format_version_is_refused(tmp_path):
    rng = np.random.default_rng(6)
    StepProbe.fit(*gaussian_steps(rng, 10, 10, shift=3.0, dim=4)).save(tmp_path)
    meta = json.loads((tmp_path / CONFIG).read_text())
    (tmp_path / CONFIG).write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(ProbeFormatError, match="format_version 99"):
        StepProbe.load(tmp_path)
