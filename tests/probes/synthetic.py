"""Synthetic features with known answers, for tests of the probes' logic.

A step's pooled vector is Gaussian noise, shifted by `shift` along a fixed direction
when the step is hallucinated. Verified runs label their other steps clean; unverified
runs leave them unknown — as the real labeller does.
"""

from __future__ import annotations

import numpy as np

from probes.dataset import Shard, StepRow
from probes.features import DATASET_POOLINGS

DIM = 16
POOLING = DATASET_POOLINGS[0].name


def direction(dim: int = DIM) -> np.ndarray:
    mu = np.zeros(dim)
    mu[0] = 1.0
    return mu


def gaussian_steps(rng, n_clean: int, n_bad: int, shift: float, dim: int = DIM):
    """(x [n, dim], y [n]) with hallucinated rows shifted along `direction()`."""
    x = rng.normal(size=(n_clean + n_bad, dim))
    y = np.r_[np.zeros(n_clean, dtype=int), np.ones(n_bad, dtype=int)]
    x[y == 1] += shift * direction(dim)
    return x, y


def run_labels(rng, steps: int, bad_prob: float = 0.5) -> tuple[np.ndarray, bool]:
    """Hallucination flags of one run (a burst of 1–3 bad steps, or none) and whether
    the run verified (runs with a burst rarely do)."""
    bad = np.zeros(steps, dtype=int)
    if rng.random() < bad_prob:
        start = int(rng.integers(1, max(2, steps - 3)))
        bad[start : start + int(rng.integers(1, 4))] = 1
    verified = bool(bad.sum() == 0 or rng.random() < 0.3)
    return bad, verified


def synthetic_shard(
    run_id: str, rng, *, steps: int = 10, shift: float = 3.0, dim: int = DIM,
    bad: np.ndarray | None = None, verified: bool | None = None, model_id: str = "test/model",
    layer: int = 2, task_id: str = "",
) -> Shard:  # fmt: skip
    if bad is None:
        bad, drawn = run_labels(rng, steps)
        verified = drawn if verified is None else verified
    steps = len(bad)
    x = rng.normal(size=(steps, dim)) + shift * np.outer(bad, direction(dim))
    labels = [1 if b else (0 if verified else -1) for b in bad]
    sources = ["grounding" if b else ("verified_run" if verified else "unknown") for b in bad]
    rows = []
    for i in range(steps):
        row = StepRow(
            run_id=run_id, position=i, step_index=i, label=labels[i], label_source=sources[i],
            run_verified=bool(verified), history=list(range(i)), model_id=model_id,
            task_id=task_id,
        )  # fmt: skip
        rows.append(row)
    # Baselines: entropy weakly informative, min logprob pure noise.
    entropy = 1.0 + 0.3 * bad + rng.normal(scale=0.5, size=steps)
    return Shard(
        run_id=run_id, model_id=model_id, layer=layer, rows=rows,
        pooled={POOLING: x.astype(np.float32), "mean": (x + rng.normal(size=x.shape)).astype(np.float32)},
        mean_entropy=entropy.astype(np.float32),
        min_logprob=(-3.0 + rng.normal(size=steps)).astype(np.float32),
        n_tokens=np.full(steps, 40, dtype=np.int32),
    )  # fmt: skip


def write_dataset(
    data_dir, runs: int = 40, seed: int = 0, prefix: str = "run", **kwargs
) -> list[Shard]:
    from probes.dataset import write_shard

    rng = np.random.default_rng(seed)
    shards = [synthetic_shard(f"{prefix}-{i:03d}", rng, **kwargs) for i in range(runs)]
    for shard in shards:
        write_shard(data_dir, shard)
    return shards
