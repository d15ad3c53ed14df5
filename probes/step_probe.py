"""The step probe: logistic regression on one step's pooled hidden state.

score(x) = σ(w · (x − μ) / σ_x + b): the probability-like alarm that the step names
something the repository does not have. Trained with class weights (hallucinated steps
are the minority) and L2 (hidden sizes are large, labelled steps few).

Saved as `step_probe.safetensors` (mean, scale, weight, bias) + `step_probe.json`
(dimension, L2, format version) — no pickle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probes.files import ProbeFormatError, load_arrays, read_meta, save_arrays, write_meta
from probes.logistic import LogisticHead, Standardizer, fit_logistic, sigmoid

FORMAT_VERSION = 1
WEIGHTS = "step_probe.safetensors"
CONFIG = "step_probe.json"


@dataclass
class StepProbe:
    standardizer: Standardizer
    head: LogisticHead
    l2: float = 1e-2

    @property
    def dim(self) -> int:
        return int(self.head.weight.shape[0])

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, balance: bool = True
    ) -> StepProbe:
        """`x` [n, d] pooled features, `y` [n] with 1 = hallucinated, 0 = clean."""
        x = np.asarray(x, dtype=np.float64)
        standardizer = Standardizer.fit(x)
        head = fit_logistic(standardizer.transform(x), np.asarray(y), l2=l2, balance=balance)
        return cls(standardizer, head, l2)

    def logits(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != self.dim:
            raise ValueError(f"features have {x.shape[1]} dimensions, the probe expects {self.dim}")
        return self.head.logits(self.standardizer.transform(x))

    def score(self, x: np.ndarray) -> np.ndarray:
        """Alarm in (0, 1) per row of `x` [n, d] (or one vector [d] → shape [1])."""
        return sigmoid(self.logits(x))

    # ------------------------------------------------------------------ files

    def save(self, directory: Path) -> None:
        save_arrays(directory / WEIGHTS, {
            "mean": self.standardizer.mean, "scale": self.standardizer.scale,
            "weight": self.head.weight, "bias": np.array([self.head.bias]),
        })  # fmt: skip
        write_meta(directory / CONFIG, {"format_version": FORMAT_VERSION, "dim": self.dim,
                                        "l2": self.l2})  # fmt: skip

    @classmethod
    def load(cls, directory: Path) -> StepProbe:
        meta = read_meta(directory / CONFIG, FORMAT_VERSION)
        arrays = load_arrays(directory / WEIGHTS, ("mean", "scale", "weight", "bias"))
        probe = cls(
            Standardizer(arrays["mean"], arrays["scale"]),
            LogisticHead(arrays["weight"], float(arrays["bias"][0])),
            float(meta.get("l2", 0.0)),
        )
        if probe.dim != meta.get("dim"):
            raise ProbeFormatError(f"{directory}: weights and {CONFIG} disagree on the dimension")
        return probe
