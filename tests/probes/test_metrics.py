"""probes.metrics against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probes.metrics import (
    auroc,
    detection_lag,
    false_alarm_rate,
    midranks,
    run_alarmed,
    summarize_lags,
)


def test_auroc_counts_pairs_exactly():
    # Positives 0.8, 0.4; negatives 0.5, 0.1: pairs (0.8>0.5, 0.8>0.1, 0.4<0.5, 0.4>0.1) = 3/4.
    assert auroc([0.8, 0.4, 0.5, 0.1], [1, 1, 0, 0]) == 0.75


def test_auroc_counts_ties_as_one_half():
    # Positive 0.5 vs negatives 0.5 (tie) and 0.2 (win): (0.5 + 1) / 2.
    assert auroc([0.5, 0.5, 0.2], [1, 0, 0]) == 0.75
    assert auroc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0]) == 0.5


def test_auroc_perfect_and_inverted():
    assert auroc([0.9, 0.8, 0.1], [1, 1, 0]) == 1.0
    assert auroc([0.1, 0.2, 0.9], [1, 1, 0]) == 0.0


def test_auroc_matches_brute_force_on_random_scores_with_ties():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, size=60).astype(float)
    y = rng.integers(0, 2, size=60)
    pos, neg = s[y == 1], s[y == 0]
    brute = np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])
    assert auroc(s, y) == pytest.approx(brute)


def test_auroc_is_undefined_for_one_class_and_drops_nan_scores():
    assert math.isnan(auroc([0.1, 0.2], [0, 0]))
    assert auroc([0.9, float("nan"), 0.1], [1, 1, 0]) == 1.0


def test_midranks_share_tied_ranks():
    np.testing.assert_array_equal(midranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1, 3.5, 2])


def test_false_alarm_rate_is_strictly_above_the_threshold():
    assert false_alarm_rate([0.1, 0.5, 0.6, 0.9], 0.5) == 0.5
    assert math.isnan(false_alarm_rate([], 0.5))
    assert run_alarmed([0.2, 0.7], 0.5) and not run_alarmed([0.2, 0.5], 0.5)


def test_detection_lag_from_the_first_hallucinated_step():
    labels = [0, 0, 1, 1, 0, 0]
    caught_at_once = detection_lag([0.1, 0.1, 0.9, 0.2, 0.1, 0.1], labels, 0.5)
    assert (caught_at_once.lag, caught_at_once.early, caught_at_once.detected) == (0, False, True)
    late = detection_lag([0.1, 0.1, 0.2, 0.3, 0.8, 0.1], labels, 0.5)
    assert late.lag == 2
    missed = detection_lag([0.1] * 6, labels, 0.5)
    assert missed.lag is None and not missed.detected
    early = detection_lag([0.9, 0.1, 0.1, 0.7, 0.1, 0.1], labels, 0.5)
    assert (early.lag, early.early, early.first_alarm) == (1, True, 0)


def test_detection_lag_is_none_for_runs_without_hallucination():
    assert detection_lag([0.9, 0.9], [0, -1], 0.5) is None


def test_lag_summary():
    labels = [0, 1, 0, 0]
    lags = [
        detection_lag([0.1, 0.9, 0.1, 0.1], labels, 0.5),  # lag 0
        detection_lag([0.1, 0.1, 0.1, 0.9], labels, 0.5),  # lag 2
        detection_lag([0.1, 0.1, 0.1, 0.1], labels, 0.5),  # missed
        None,
    ]
    summary = summarize_lags(lags)
    assert (summary.runs, summary.detected, summary.median_lag) == (3, 2, 1.0)
    assert summary.detection_rate == pytest.approx(2 / 3)
