"""Metrics shared by the probes and their baselines: AUROC, false alarms, detection lag.

Scores are "higher = more suspicious" everywhere (baselines are turned into such
scores by `features.baseline_scores`), and an alarm is `score > threshold` — the same
strict comparison the monitor uses. NaN scores (a baseline the backend could not give)
are left out of a metric and counted in its `missing`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _clean(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.shape != y.shape:
        raise ValueError(f"scores {s.shape} and labels {y.shape} differ in shape")
    keep = ~np.isnan(s)
    return s[keep], y[keep].astype(bool), int((~keep).sum())


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_vals = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_vals[j + 1] == sorted_vals[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return ranks


def auroc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Exact area under the ROC curve: P(score of a positive > score of a negative), ties
    counted as one half (the Mann–Whitney U statistic over n_pos · n_neg). NaN scores are
    dropped; with no positives or no negatives the AUROC is undefined → NaN."""
    s, y, _ = _clean(scores, labels)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = midranks(s)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def false_alarm_rate(scores: Sequence[float] | np.ndarray, threshold: float) -> float:
    """Share of (clean) scores above the threshold; NaN for no scores."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[~np.isnan(s)]
    return float((s > threshold).mean()) if len(s) else float("nan")


def run_alarmed(scores: Sequence[float] | np.ndarray, threshold: float) -> bool:
    s = np.asarray(scores, dtype=np.float64)
    return bool((s[~np.isnan(s)] > threshold).any())


@dataclass(frozen=True)
class Lag:
    """Detection in one run that has at least one hallucinated step.

    `lag`: steps from the first hallucinated step to the first alarm at or after it
    (0 = caught at that very step); None when no alarm came at or after it.
    `early`: an alarm fired before the first hallucinated step (a false alarm in a run
    that later did go wrong)."""

    first_hallucinated: int
    first_alarm: int | None
    lag: int | None
    early: bool

    @property
    def detected(self) -> bool:
        return self.lag is not None


def detection_lag(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, threshold: float
) -> Lag | None:
    """Lag for one run's steps in order (`labels`: 1 hallucinated, 0 clean, −1 unknown);
    None when the run has no hallucinated step. Positions are step positions in the run."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    hallucinated = np.flatnonzero(y == 1)
    if len(hallucinated) == 0:
        return None
    first = int(hallucinated[0])
    alarms = np.flatnonzero(~np.isnan(s) & (s > threshold))
    after = alarms[alarms >= first]
    first_alarm = int(alarms[0]) if len(alarms) else None
    return Lag(
        first_hallucinated=first, first_alarm=first_alarm,
        lag=int(after[0] - first) if len(after) else None, early=bool((alarms < first).any()),
    )  # fmt: skip


@dataclass(frozen=True)
class LagSummary:
    runs: int  # runs with a hallucinated step
    detected: int
    median_lag: float | None
    mean_lag: float | None
    early: int

    @property
    def detection_rate(self) -> float:
        return self.detected / self.runs if self.runs else float("nan")


def summarize_lags(lags: Sequence[Lag | None]) -> LagSummary:
    present = [lag for lag in lags if lag is not None]
    values = [lag.lag for lag in present if lag.lag is not None]
    return LagSummary(
        runs=len(present), detected=len(values),
        median_lag=float(np.median(values)) if values else None,
        mean_lag=float(np.mean(values)) if values else None,
        early=sum(lag.early for lag in present),
    )  # fmt: skip
