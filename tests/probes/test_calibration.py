"""probes.calibration: thresholds hit the target false-alarm rate on held-out data."""

from __future__ import annotations

import numpy as np
import pytest

from probes.calibration import calibrate, conformal_threshold
from probes.metrics import false_alarm_rate, run_alarmed


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.2])
def test_step_threshold_hits_the_target_on_held_out_clean_scores(alpha):
    rng = np.random.default_rng(0)
    threshold, guaranteed = conformal_threshold(rng.beta(2, 5, size=3000), alpha)
    held_out = rng.beta(2, 5, size=200_000)
    assert guaranteed
    # The rate a single calibration set achieves scatters around alpha with the sampling
    # error of a quantile from 3000 scores (3 standard deviations allowed).
    tolerance = 3 * np.sqrt(alpha * (1 - alpha) / 3000)
    assert abs(false_alarm_rate(held_out, threshold) - alpha) <= tolerance


def test_the_guarantee_holds_on_average_over_small_calibration_sets():
    rng = np.random.default_rng(1)
    rates = []
    for _ in range(400):
        threshold, _ = conformal_threshold(rng.normal(size=39), 0.1)
        rates.append(false_alarm_rate(rng.normal(size=2000), threshold))
    assert np.mean(rates) <= 0.1 + 0.005


def test_too_few_clean_scores_cannot_promise_the_target():
    threshold, guaranteed = conformal_threshold([0.1, 0.3, 0.2], 0.05)
    assert (threshold, guaranteed) == (0.3, False)


def test_prefix_threshold_is_set_on_runs_when_there_are_enough():
    rng = np.random.default_rng(2)
    runs = [rng.beta(2, 6, size=int(rng.integers(5, 15))) for _ in range(400)]
    steps = np.concatenate(runs)
    t = calibrate(rng.beta(2, 6, size=500), steps, runs, 0.05)
    assert t.prefix_basis == "clean_runs" and t.guaranteed
    new_runs = [rng.beta(2, 6, size=int(rng.integers(5, 15))) for _ in range(4000)]
    alarmed = np.mean([run_alarmed(r, t.prefix) for r in new_runs])
    assert 0.03 <= alarmed <= 0.065


def test_prefix_threshold_falls_back_to_clean_steps_with_few_runs():
    rng = np.random.default_rng(3)
    runs = [rng.beta(2, 6, size=10) for _ in range(5)]
    t = calibrate(rng.beta(2, 6, size=500), np.concatenate(runs), runs, 0.05)
    assert t.prefix_basis == "clean_steps"
    assert t.prefix_n == 50


def test_calibration_needs_clean_scores():
    with pytest.raises(ValueError, match="no clean scores"):
        conformal_threshold([], 0.05)
