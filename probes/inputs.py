"""What a probe reads: the pooled hidden state, the step's token statistics, or both.

`hidden` is the probe the design describes: the pooled state of one layer. `baselines`
reads only the step's minimum token logprob and mean token entropy (two numbers the
backend already returns), `hidden+baselines` both. They exist because on the first
real dataset (docs/probes.md, "Accuracy on real runs") the minimum logprob alone ranked
hallucinated steps better than the hidden-state probe, and a monitor should act on the
better signal; which one is better is measured per dataset with
`scripts/bench_probe_cv.py --inputs`, and the choice is stored on the probe's card.

The same function builds a training matrix from a dataset and a scoring vector from a
live step, so the two cannot drift apart. A missing statistic (a backend without token
records) is NaN; the probes' standardizer reads NaN as the training mean, i.e. neutral.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from probes.dataset import Dataset
    from probes.features import StepFeatures

ProbeInputs = Literal["hidden", "baselines", "hidden+baselines"]
INPUTS: tuple[str, ...] = get_args(ProbeInputs)
DEFAULT_INPUTS: ProbeInputs = "hidden"
STATISTICS = ("min_logprob", "mean_entropy")  # column order after the hidden state


def check(inputs: str) -> ProbeInputs:
    if inputs not in INPUTS:
        raise ValueError(f"unknown probe inputs {inputs!r}: use one of {', '.join(INPUTS)}")
    return inputs  # type: ignore[return-value]


def dataset_matrix(dataset: Dataset, pooling: str, inputs: str) -> np.ndarray:
    """float64 [rows, d]: every step of `dataset` as the probe reads it."""
    check(inputs)
    parts = []
    if inputs != "baselines":
        parts.append(np.asarray(dataset.features(pooling), dtype=np.float64))
    if inputs != "hidden":
        parts.append(np.stack([dataset.baseline(name) for name in STATISTICS], axis=1))
    return np.concatenate(parts, axis=1)


def step_vector(features: StepFeatures, inputs: str) -> np.ndarray:
    """float64 [d]: one live step as the probe reads it (NaN for a missing statistic)."""
    check(inputs)
    parts = []
    if inputs != "baselines":
        parts.append(np.asarray(features.vector, dtype=np.float64))
    if inputs != "hidden":
        stats = [getattr(features, name) for name in STATISTICS]
        parts.append(np.array([np.nan if v is None else float(v) for v in stats]))
    return np.concatenate(parts)
