"""Weighted, L2-regularised logistic regression in numpy, with soft targets.

Both heads use it: the step probe (hard 0/1 labels) and the prefix integrator (soft
targets in [0, 1], the smoothed label sequence). Inputs are standardised first
(`Standardizer`, fitted on the training rows and stored with the head), so one L2
strength means the same thing for every layer and model.

Objective, with sample weights s_i, class weights a (positive) and c (negative):

    J = (1/S) Σ s_i · −[a·y_i·log p_i + c·(1 − y_i)·log(1 − p_i)] + (λ/2)·|w|²,  S = Σ s_i

With `balance`, a and c make both classes carry half of the total weight (for soft
targets "positive mass" is Σ s_i·y_i). J is convex; it is minimised with damped
Newton steps (the Hessian is (d+1)², cheap for hidden sizes in the low thousands).
The bias is not regularised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Standardizer:
    mean: np.ndarray
    scale: np.ndarray

    """Per-feature centring and scaling. NaN marks a missing value (a step whose backend
    gave no token statistics): fitting ignores it and transforming maps it to 0, the
    training mean, so a missing input neither raises nor lowers a score."""

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        x = np.asarray(x, dtype=np.float64)
        missing = np.isnan(x)
        present = np.where(missing, 0.0, x)
        count = np.maximum((~missing).sum(axis=0), 1)
        mean = present.sum(axis=0) / count
        scale = np.sqrt((np.where(missing, 0.0, x - mean) ** 2).sum(axis=0) / count)
        # A constant feature carries no information; dividing by ~0 would only amplify noise.
        scale = np.where(scale > 1e-6, scale, 1.0)
        return cls(mean=mean, scale=scale)

    def transform(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return np.where(np.isnan(z), 0.0, z)


@dataclass
class LogisticHead:
    weight: np.ndarray  # float64 [d]
    bias: float

    def logits(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64) @ self.weight + self.bias

    def predict(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(z))


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def class_weights(y: np.ndarray, s: np.ndarray, balance: bool) -> tuple[float, float]:
    total = float(s.sum())
    pos = float((s * y).sum())
    neg = float((s * (1.0 - y)).sum())
    if pos <= 0 or neg <= 0:
        raise ValueError("logistic regression needs both classes (positive and negative mass)")
    if not balance:
        return 1.0, 1.0
    return total / (2.0 * pos), total / (2.0 * neg)


def _objective(
    theta: np.ndarray, z1: np.ndarray, y: np.ndarray, s: np.ndarray, a: float, c: float, l2: float
) -> float:
    logits = z1 @ theta
    # log p = −log(1 + e^−x), log(1 − p) = −log(1 + e^x), computed without overflow.
    loss = s * (a * y * np.logaddexp(0.0, -logits) + c * (1.0 - y) * np.logaddexp(0.0, logits))
    return float(loss.sum() / s.sum() + 0.5 * l2 * np.dot(theta[:-1], theta[:-1]))


def fit_logistic(
    z: np.ndarray,
    y: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    l2: float = 1e-2,
    balance: bool = True,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> LogisticHead:
    """Fit on standardised inputs `z` [n, d] and targets `y` in [0, 1] (soft allowed)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise ValueError(f"shapes do not match: z {z.shape}, y {y.shape}")
    if ((y < 0) | (y > 1)).any() or not np.isfinite(z).all():
        raise ValueError("targets must lie in [0, 1] and inputs must be finite")
    s = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    keep = s > 0
    z, y, s = z[keep], y[keep], s[keep]
    a, c = class_weights(y, s, balance)
    n, d = z.shape
    z1 = np.hstack([z, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 1e-10  # bias: unregularised, a hair of ridge keeps the solve well posed
    total = s.sum()
    current = _objective(theta, z1, y, s, a, c, l2)
    for _ in range(max_iter):
        p = sigmoid(z1 @ theta)
        mix = a * y + c * (1.0 - y)
        grad = z1.T @ (s * (mix * p - a * y)) / total + reg * theta
        curvature = s * mix * p * (1.0 - p) / total
        hessian = (z1 * curvature[:, None]).T @ z1 + np.diag(reg)
        step = np.linalg.solve(hessian, grad)
        # Backtracking: a full Newton step can overshoot far from the optimum.
        scale = 1.0
        while scale > 1e-6:
            candidate = theta - scale * step
            value = _objective(candidate, z1, y, s, a, c, l2)
            if value <= current:
                break
            scale *= 0.5
        else:
            break
        theta, previous, current = candidate, current, value
        if previous - current < tol * max(1.0, abs(current)):
            break
    return LogisticHead(weight=theta[:-1].copy(), bias=float(theta[-1]))
