"""The prefix integrator: is the run *so far* drifting?

One step's alarm is noisy; a run that keeps naming things that are not there is not.
The integrator keeps a running, exponentially weighted state over the run's step
features and scores it with its own linear head:

    m_t = Σ_{k≤t} λ^{t−k} · x̂_k / Σ_{k≤t} λ^{t−k}        (x̂: standardised step features)
    prefix_t = σ(v · m_t + c)

The normalisation makes m_1 = x̂_1 and keeps m a weighted *average* at every t, so the
head sees the same scale early and late in a run. Each new step moves the state by a
share of about (1 − λ), so the score rises while alarming steps keep coming and comes
down again once clean steps follow: after k clean steps the old evidence weighs λ^k.

Training target (the idea of streaming hallucination detection, from first
principles): the head is fitted to the *smoothed label sequence* with the same decay,

    ỹ_t = Σ_{k≤t, labelled} λ^{t−k} · y_k / Σ_{k≤t, labelled} λ^{t−k},

a soft target in [0, 1] that is high just after hallucinated steps and decays through
a genuine recovery — so the head learns "how much recent evidence of drift is there",
not "did this run ever slip". Only steps with a known label of their own are training
rows; unlabelled steps still move the feature state (they happened) but not the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probes.files import ProbeFormatError, load_arrays, read_meta, save_arrays, write_meta
from probes.logistic import LogisticHead, Standardizer, fit_logistic, sigmoid

FORMAT_VERSION = 1
WEIGHTS = "prefix.safetensors"
CONFIG = "prefix.json"
UNKNOWN = -1  # label code for steps excluded from training


def running_states(z: np.ndarray, decay: float) -> np.ndarray:
    """Normalised exponentially weighted running mean over the rows of `z` [T, k]."""
    z = np.asarray(z, dtype=np.float64)
    out = np.empty_like(z)
    acc = np.zeros(z.shape[1:], dtype=np.float64)
    mass = 0.0
    for t in range(z.shape[0]):
        acc = decay * acc + z[t]
        mass = decay * mass + 1.0
        out[t] = acc / mass
    return out


def prefixes(
    x: np.ndarray, labels: Sequence[int] | np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every prefix of one run's steps: the training sequences of a run without rollbacks."""
    x = np.atleast_2d(x)
    y = np.asarray(labels)
    return [(x[: t + 1], y[: t + 1]) for t in range(len(y))]


def smoothed_targets(labels: Sequence[int] | np.ndarray, decay: float) -> np.ndarray:
    """ỹ_t over the labelled steps up to t (NaN until the first labelled step).
    `labels`: 1 hallucinated, 0 clean, −1 unknown."""
    out = np.full(len(labels), np.nan)
    acc = mass = 0.0
    for t, label in enumerate(labels):
        acc *= decay
        mass *= decay
        if label != UNKNOWN:
            acc += float(label)
            mass += 1.0
        if mass > 0:
            out[t] = acc / mass
    return out


@dataclass
class PrefixIntegrator:
    decay: float
    standardizer: Standardizer
    head: LogisticHead
    l2: float = 1e-2

    @property
    def dim(self) -> int:
        return int(self.head.weight.shape[0])

    def states(self, x: np.ndarray) -> np.ndarray:
        """Running states m_t for a run's step features `x` [T, d], oldest first."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.dim:
            raise ValueError(f"features have {x.shape[1]} dimensions, the head expects {self.dim}")
        return running_states(self.standardizer.transform(x), self.decay)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """prefix_t for every prefix of the run [T]."""
        return sigmoid(self.head.logits(self.states(x)))

    def score(self, x: np.ndarray) -> float:
        """The score of the whole sequence `x` [T, d] (its last prefix)."""
        return float(self.scores(x)[-1])

    @classmethod
    def fit(
        cls,
        sequences: Sequence[tuple[np.ndarray, np.ndarray]],
        *,
        decay: float = 0.7,
        l2: float = 1e-2,
    ) -> PrefixIntegrator:
        """Each sequence is one training row: (features [T, d], labels [T] with 1 / 0 / −1)
        of the steps the monitor had seen when it assessed the last one (its history and
        itself, oldest first). The row is the state after the last step, its target ỹ_T;
        rows whose last step is unlabelled are skipped. For a run without rollbacks the
        sequences are simply its prefixes (`prefixes`)."""
        if not 0 < decay < 1:
            raise ValueError("decay must lie strictly between 0 and 1")
        rows = [(np.atleast_2d(x), np.asarray(y)) for x, y in sequences if len(y)]
        rows = [(x, y) for x, y in rows if y[-1] != UNKNOWN]
        if not rows:
            raise ValueError("no labelled steps to fit the prefix integrator on")
        # Standardise over distinct steps, not over rows (early steps recur in every prefix).
        standardizer = Standardizer.fit(np.vstack([x[-1:] for x, _ in rows]))
        inputs = np.vstack([running_states(standardizer.transform(x), decay)[-1] for x, _ in rows])
        targets = np.array([smoothed_targets(y, decay)[-1] for _, y in rows])
        head = fit_logistic(inputs, targets, l2=l2)
        return cls(decay, standardizer, head, l2)

    # ------------------------------------------------------------------ files

    def save(self, directory: Path) -> None:
        save_arrays(directory / WEIGHTS, {
            "mean": self.standardizer.mean, "scale": self.standardizer.scale,
            "weight": self.head.weight, "bias": np.array([self.head.bias]),
        })  # fmt: skip
        write_meta(directory / CONFIG, {"format_version": FORMAT_VERSION, "dim": self.dim,
                                        "decay": self.decay, "l2": self.l2})  # fmt: skip

    @classmethod
    def load(cls, directory: Path) -> PrefixIntegrator:
        meta = read_meta(directory / CONFIG, FORMAT_VERSION)
        arrays = load_arrays(directory / WEIGHTS, ("mean", "scale", "weight", "bias"))
        integrator = cls(
            float(meta["decay"]),
            Standardizer(arrays["mean"], arrays["scale"]),
            LogisticHead(arrays["weight"], float(arrays["bias"][0])),
            float(meta.get("l2", 0.0)),
        )
        if integrator.dim != meta.get("dim"):
            raise ProbeFormatError(f"{directory}: weights and {CONFIG} disagree on the dimension")
        return integrator
