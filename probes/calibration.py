"""Thresholds for a target false-alarm rate, set on held-out clean data.

An alarm costs something: a resample throws away a step, a rollback throws away work.
So thresholds are chosen for how often they fire on *clean* behaviour, not for
accuracy. With n held-out clean scores s_(1) ≤ … ≤ s_(n) and target rate α the
threshold is the conformal quantile

    t = s_(j),  j = ⌈(n + 1)(1 − α)⌉,

for which a new clean score from the same distribution exceeds t with probability at
most α (split-conformal guarantee; exchangeability is the assumption). Where n is too
small for that (j > n) the largest clean score is used and `guaranteed` is False.

- Step threshold: on the step-probe scores of held-out clean steps; α is then the
  share of clean steps that would be resampled.
- Prefix threshold: on held-out clean *runs* — the largest prefix score each reaches —
  so α is the share of good runs that would see a rollback at all. That needs about
  1/α runs (19 for 5 %); with fewer it falls back to the prefix scores of clean steps
  (`prefix_basis = "clean_steps"`), which fires more often per run than α.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np

from agent.types import Model
from probes.metrics import false_alarm_rate


class Thresholds(Model):
    step: float
    prefix: float
    target_false_alarm: float
    step_n: int
    step_false_alarm: float  # on the calibration scores themselves
    prefix_basis: Literal["clean_runs", "clean_steps"]
    prefix_n: int
    prefix_false_alarm: float
    guaranteed: bool


def conformal_threshold(
    clean_scores: Sequence[float] | np.ndarray, alpha: float
) -> tuple[float, bool]:
    """(threshold, guaranteed) such that P(new clean score > threshold) ≤ alpha."""
    if not 0 < alpha < 1:
        raise ValueError("the target false-alarm rate must lie strictly between 0 and 1")
    s = np.sort(np.asarray(clean_scores, dtype=np.float64))
    s = s[~np.isnan(s)]
    n = len(s)
    if n == 0:
        raise ValueError("no clean scores to calibrate on")
    j = math.ceil((n + 1) * (1 - alpha))
    if j > n:
        return float(s[-1]), False
    return float(s[j - 1]), True


def calibrate(
    step_clean: Sequence[float] | np.ndarray,
    prefix_clean_steps: Sequence[float] | np.ndarray,
    prefix_clean_runs: Sequence[Sequence[float]],
    alpha: float,
) -> Thresholds:
    """`step_clean`: step scores of held-out clean steps; `prefix_clean_steps`: prefix
    scores at those steps; `prefix_clean_runs`: each held-out clean run's prefix scores."""
    step, step_ok = conformal_threshold(step_clean, alpha)
    maxima = [float(np.nanmax(r)) for r in prefix_clean_runs if len(r) and not np.isnan(r).all()]
    basis: Literal["clean_runs", "clean_steps"]
    prefix_ok = False
    if maxima:
        prefix, prefix_ok = conformal_threshold(maxima, alpha)
    if prefix_ok:
        basis, prefix_n = "clean_runs", len(maxima)
        prefix_far = float(np.mean([m > prefix for m in maxima]))
    else:
        basis = "clean_steps"
        prefix, prefix_ok = conformal_threshold(prefix_clean_steps, alpha)
        prefix_n = int(np.sum(~np.isnan(np.asarray(prefix_clean_steps, dtype=np.float64))))
        prefix_far = false_alarm_rate(prefix_clean_steps, prefix)
    return Thresholds(
        step=step, prefix=prefix, target_false_alarm=alpha,
        step_n=int(np.sum(~np.isnan(np.asarray(step_clean, dtype=np.float64)))),
        step_false_alarm=false_alarm_rate(step_clean, step), prefix_basis=basis,
        prefix_n=prefix_n, prefix_false_alarm=prefix_far, guaranteed=step_ok and prefix_ok,
    )  # fmt: skip
