"""The `Probe` protocol, the trained probe, a scripted fake, and the decision policy.

A probe scores a proposed step given the steps kept before it:
`score(pending, history) -> ProbeReading` with the step score, the prefix score
(*including* the pending step), their thresholds and the decision:

- step score > step threshold → RESAMPLE (the step has not run: drop it, sample again);
- else prefix score > prefix threshold → ROLLBACK (the run so far is drifting: restore
  the newest step that was judged safe) — or RESAMPLE when nothing has been kept yet,
  since there is nothing to roll back;
- else ACCEPT.

`TrainedProbe` is a step probe + prefix integrator + card (what the store saves);
`ScriptedProbe` scores from functions of the features, for tests of everything above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np
from pydantic import Field

from agent.types import Decision, Model, Persisted, ProbeReading, content_hash, utcnow
from probes.calibration import Thresholds
from probes.features import Pooling, StepFeatures
from probes.inputs import DEFAULT_INPUTS, ProbeInputs, step_vector
from probes.prefix import PrefixIntegrator
from probes.step_probe import StepProbe


@runtime_checkable
class Probe(Protocol):
    probe_id: str
    layer: int
    pooling: Pooling
    # False: the probe reads token statistics only (`inputs` = baselines), so a run
    # needs no hidden states for it — any backend with token logprobs can be monitored.
    needs_hidden: bool

    def score(self, pending: StepFeatures, history: Sequence[StepFeatures]) -> ProbeReading: ...


def decide(
    step_score: float, prefix_score: float, step_threshold: float, prefix_threshold: float,
    has_history: bool,
) -> tuple[Decision, str]:  # fmt: skip
    if step_score > step_threshold:
        return Decision.RESAMPLE, f"step score {step_score:.2f} > {step_threshold:.2f}"
    if prefix_score > prefix_threshold:
        why = f"prefix score {prefix_score:.2f} > {prefix_threshold:.2f}"
        if not has_history:
            return Decision.RESAMPLE, f"{why} on the first step (nothing to roll back)"
        return Decision.ROLLBACK, why
    return Decision.ACCEPT, (
        f"step {step_score:.2f} ≤ {step_threshold:.2f}, prefix {prefix_score:.2f} ≤ "
        f"{prefix_threshold:.2f}"
    )


def reading(
    probe_id: str, pending: StepFeatures, step_score: float, prefix_score: float,
    step_threshold: float, prefix_threshold: float, has_history: bool,
) -> ProbeReading:  # fmt: skip
    decision, reason = decide(step_score, prefix_score, step_threshold, prefix_threshold,
                              has_history)  # fmt: skip
    return ProbeReading(
        step_score=step_score, prefix_score=prefix_score, step_threshold=step_threshold,
        prefix_threshold=prefix_threshold, decision=decision, reason=reason, probe_id=probe_id,
        mean_entropy=pending.mean_entropy, min_logprob=pending.min_logprob,
    )  # fmt: skip


# --------------------------------------------------------------------------- card


class TrainingSummary(Model):
    runs: int
    steps: int
    hallucinated: int
    clean: int
    unknown: int
    train_runs: list[str] = Field(default_factory=list)
    calibration_runs: list[str] = Field(default_factory=list)
    test_runs: list[str] = Field(default_factory=list)
    data_hashes: dict[str, str] = Field(
        default_factory=dict, description="dataset shard → sha256 of its files"
    )
    l2: float
    seed: int
    calibrated_on_training_runs: bool = False


class ProbeCard(Persisted):
    """Everything about a trained probe except its weights (probe.json)."""

    probe_id: str
    model_id: str
    model_sha256: str | None = None
    layer: int
    hidden_size: int = Field(
        description="the probes' input size (the hidden size, +2 with baselines)"
    )
    pooling: str
    inputs: ProbeInputs = Field(
        default=DEFAULT_INPUTS, description="what the probes read (probes.inputs)"
    )
    decay: float
    thresholds: Thresholds
    training: TrainingSummary
    metrics: dict[str, float | None] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


def probe_id_for(model_id: str, step: StepProbe, prefix: PrefixIntegrator) -> str:
    weights = np.concatenate([step.head.weight, [step.head.bias], prefix.head.weight,
                              [prefix.head.bias]])  # fmt: skip
    return content_hash({"model": model_id, "w": weights.round(8).tolist()})[:12]


@dataclass
class TrainedProbe:
    card: ProbeCard
    step: StepProbe
    prefix: PrefixIntegrator

    @property
    def probe_id(self) -> str:
        return self.card.probe_id

    @property
    def layer(self) -> int:
        return self.card.layer

    @property
    def pooling(self) -> Pooling:
        return Pooling.parse(self.card.pooling)

    @property
    def needs_hidden(self) -> bool:
        return self.card.inputs != "baselines"

    def score(self, pending: StepFeatures, history: Sequence[StepFeatures]) -> ProbeReading:
        inputs = self.card.inputs
        vector = step_vector(pending, inputs)
        step_score = float(self.step.score(vector)[0])
        run = np.vstack([*(step_vector(h, inputs) for h in history), vector])
        prefix_score = self.prefix.score(run)
        t = self.card.thresholds
        return reading(self.probe_id, pending, step_score, prefix_score, t.step, t.prefix,
                       bool(history))  # fmt: skip


# --------------------------------------------------------------------------- fake

ScoreFn = Callable[[StepFeatures, Sequence[StepFeatures]], float]


class ScriptedProbe:
    """Scores from plain functions of the features (tests: decisions with known answers).

    The default scores read feature 0 of the pooled vector: `step_fn` squashes it with a
    logistic, `prefix_fn` the exponentially weighted mean of it over the run."""

    def __init__(
        self,
        *,
        layer: int = 0,
        pooling: Pooling | None = None,
        step_fn: ScoreFn | None = None,
        prefix_fn: ScoreFn | None = None,
        step_threshold: float = 0.5,
        prefix_threshold: float = 0.5,
        decay: float = 0.5,
        probe_id: str = "scripted",
        needs_hidden: bool = True,
    ):
        self.layer = layer
        self.needs_hidden = needs_hidden
        self.pooling = pooling or Pooling(kind="mean")
        self.probe_id = probe_id
        self.step_threshold = step_threshold
        self.prefix_threshold = prefix_threshold
        self.decay = decay
        self.step_fn = step_fn or (lambda p, h: _squash(p.vector[0]))
        self.prefix_fn = prefix_fn or self._ema_of_first
        self.calls: list[tuple[StepFeatures, list[StepFeatures]]] = []

    def _ema_of_first(self, pending: StepFeatures, history: Sequence[StepFeatures]) -> float:
        from probes.prefix import running_states

        values = np.array([[f.vector[0]] for f in [*history, pending]])
        return _squash(float(running_states(values, self.decay)[-1, 0]))

    def score(self, pending: StepFeatures, history: Sequence[StepFeatures]) -> ProbeReading:
        self.calls.append((pending, list(history)))
        return reading(
            self.probe_id, pending, float(self.step_fn(pending, history)),
            float(self.prefix_fn(pending, history)), self.step_threshold, self.prefix_threshold,
            bool(history),
        )  # fmt: skip


def _squash(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-float(x))))
