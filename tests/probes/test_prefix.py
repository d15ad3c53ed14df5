"""probes.prefix: the running state, the smoothed targets, and the integrator's rise and
recovery on synthetic runs."""

from __future__ import annotations

import numpy as np
import pytest

from probes.prefix import PrefixIntegrator, prefixes, running_states, smoothed_targets
from tests.probes.synthetic import direction


def test_running_states_are_normalised_exponential_averages():
    z = np.array([[1.0], [0.0], [0.0], [4.0]])
    m = running_states(z, 0.5)
    # t=0: 1; t=1: 0.5/1.5; t=2: 0.25/1.75; t=3: (0.125 + 4)/1.875
    np.testing.assert_allclose(m[:, 0], [1.0, 1 / 3, 1 / 7, 4.125 / 1.875])


def test_smoothed_targets_skip_unknown_steps():
    t = smoothed_targets([-1, 1, -1, 0, 0], 0.5)
    assert np.isnan(t[0])
    # The label state decays through the unknown step but gains no mass from it.
    np.testing.assert_allclose(t[1:], [1.0, 1.0, 0.25 / 1.25, 0.125 / 1.625])


def _runs(rng, count, steps=12, shift=2.5, dim=24):
    out = []
    for _ in range(count):
        bad = np.zeros(steps, dtype=int)
        if rng.random() < 0.6:
            start = int(rng.integers(1, steps - 4))
            bad[start : start + int(rng.integers(1, 4))] = 1
        x = rng.normal(size=(steps, dim)) + shift * np.outer(bad, direction(dim))
        out.append((x, bad))
    return out


@pytest.fixture(scope="module")
def integrator():
    rng = np.random.default_rng(0)
    sequences = [seq for x, y in _runs(rng, 200) for seq in prefixes(x, y)]
    return PrefixIntegrator.fit(sequences, decay=0.7, l2=1e-2)


def test_rises_with_alarming_steps_and_recovers_after_clean_ones(integrator):
    rng = np.random.default_rng(1)
    bad = np.array([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    curves = []
    for _ in range(300):
        x = rng.normal(size=(12, 24)) + 2.5 * np.outer(bad, direction(24))
        curves.append(integrator.scores(x))
    mean = np.mean(curves, axis=0)
    before, peak, after = mean[2], mean[5], mean[11]
    assert peak > before + 0.3  # it rises while the alarming steps come
    assert np.all(np.diff(mean[3:6]) > 0)  # and keeps rising through the burst
    assert after < peak - 0.3  # and comes down through the recovery
    assert np.all(np.diff(mean[6:]) < 0.02)  # (monotonically, up to noise)


def test_a_clean_run_stays_low(integrator):
    rng = np.random.default_rng(2)
    scores = np.mean([integrator.scores(rng.normal(size=(12, 24))) for _ in range(200)], axis=0)
    assert scores.max() < 0.4


def test_sequences_with_an_unlabelled_last_step_are_not_training_rows():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 4))
    with pytest.raises(ValueError, match="no labelled steps"):
        PrefixIntegrator.fit([(x, np.array([1, 0, -1]))])


def test_save_and_load_round_trip(integrator, tmp_path):
    integrator.save(tmp_path)
    loaded = PrefixIntegrator.load(tmp_path)
    x = np.random.default_rng(4).normal(size=(7, 24))
    np.testing.assert_array_equal(loaded.scores(x), integrator.scores(x))
    assert loaded.decay == 0.7
