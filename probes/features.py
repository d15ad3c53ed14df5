"""Step features: a step's hidden states pooled into one vector, plus two baselines.

Layer. The probe reads the output of one decoder layer, 0-based, exactly as
`Generation.hidden` defines it (`hidden_states[L + 1]` in transformers' numbering).
`default_layer(n)` is about two thirds of the depth — 16 of 24 for the 0.5B model,
19 of 28 for the 1.5B: late enough that the model has resolved what it is talking
about, early enough that the states are not yet just next-token logits.

Pooling. A step is many tokens; the probe wants one vector. The default pool is an
exponentially weighted mean whose weights double towards the end of the step:

    w_i ∝ 2 ** (-(n - 1 - i) / h),   h = max(1, half_life · n)

so a token `half_life · n` positions before the end weighs half as much as the last
one; with the default half life of 0.25 the last quarter of the tokens carries 8/15
(≈ 0.53) of the weight and each earlier quarter half as much as the one after it.
The half life is relative to the step's length, so a three-line thought
and a long edit are pooled at the same scale. Later tokens are favoured because a
step's commitment — the path it opens, the name it calls — comes at its end, in the
action, and because a later token's state has attended to everything before it.
`linear` (w_i ∝ i + 1), `mean` and `last` are there to compare against; the dataset
stores all four so the choice can be revisited without re-running the agent.

Baselines. Mean token entropy (nats) and minimum token log-probability of the step,
from the backend's raw distribution. Scores derived from them (`baseline_scores`)
are what the probe has to beat.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # pragma: no cover
    from agent.backends.base import Generation
    from agent.types import Step

PoolingKind = Literal["exp", "linear", "mean", "last"]


def default_layer(num_layers: int) -> int:
    """About two thirds of the depth, as a 0-based decoder-layer index."""
    if num_layers < 1:
        raise ValueError("a model has at least one layer")
    return min(num_layers - 1, round(2 * num_layers / 3))


class Pooling(BaseModel):
    """How a step's token states become one vector. `name` is its stable spelling."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PoolingKind = "exp"
    half_life: float = Field(default=0.25, gt=0, le=1, description="exp only: share of tokens")

    @property
    def name(self) -> str:
        return f"exp:{self.half_life:g}" if self.kind == "exp" else self.kind

    @classmethod
    def parse(cls, text: str) -> Pooling:
        """`exp`, `exp:0.25`, `linear`, `mean`, `last`."""
        kind, _, arg = text.strip().partition(":")
        if kind not in ("exp", "linear", "mean", "last"):
            raise ValueError(f"unknown pooling {text!r}: use exp[:half_life], linear, mean or last")
        if arg and kind != "exp":
            raise ValueError(f"pooling {kind!r} takes no parameter (got {text!r})")
        return cls(kind=kind, half_life=float(arg)) if arg else cls(kind=kind)  # type: ignore[arg-type]

    def weights(self, n: int) -> np.ndarray:
        """Non-negative float64 weights over n tokens, summing to 1."""
        if n < 1:
            raise ValueError("cannot pool zero tokens")
        positions = np.arange(n, dtype=np.float64)
        if self.kind == "mean":
            w = np.ones(n)
        elif self.kind == "last":
            w = np.zeros(n)
            w[-1] = 1.0
        elif self.kind == "linear":
            w = positions + 1.0
        else:
            h = max(1.0, self.half_life * n)
            w = np.exp2(-(n - 1 - positions) / h)
        return w / w.sum()

    def pool(self, hidden: np.ndarray) -> np.ndarray:
        """[n, d] → float32 [d]."""
        states = np.asarray(hidden, dtype=np.float32)
        if states.ndim != 2 or states.shape[0] == 0:
            raise ValueError(f"expected hidden states [n_tokens, d] with n ≥ 1, got {states.shape}")
        return (self.weights(states.shape[0]).astype(np.float32) @ states).astype(np.float32)


DEFAULT_POOLING = Pooling()
# What the dataset stores per step (cheap: one vector each), so pooling can be compared later.
DATASET_POOLINGS: tuple[Pooling, ...] = (
    DEFAULT_POOLING, Pooling(kind="linear"), Pooling(kind="mean"), Pooling(kind="last"),
)  # fmt: skip


class NoFeatures(ValueError):
    """A generation that cannot be turned into features; the message says why."""


@dataclass
class StepFeatures:
    """One step, ready for a probe. `vector` is float32 [hidden_size]."""

    vector: np.ndarray
    layer: int
    pooling: str
    n_tokens: int
    mean_entropy: float | None = None
    min_logprob: float | None = None


def baselines(generation: Generation) -> tuple[float | None, float | None]:
    """(mean token entropy, min token logprob), None where the backend gave none."""
    mean_entropy = _finite_mean(generation.entropies)
    min_logprob = None
    if generation.logprobs:
        values = [v for v in generation.logprobs if v is not None and math.isfinite(v)]
        min_logprob = float(min(values)) if values else None
    return mean_entropy, min_logprob


def _finite_mean(values: Sequence[float] | None) -> float | None:
    if not values:
        return None
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return float(sum(kept) / len(kept)) if kept else None


def hidden_of(generation: Generation, layer: int) -> np.ndarray:
    """The generation's captured states of `layer` as float32 [n, d], or NoFeatures."""
    if generation.hidden is None:
        raise NoFeatures("the generation carries no hidden states")
    if generation.hidden_layer is not None and generation.hidden_layer != layer:
        raise NoFeatures(
            f"hidden states are of layer {generation.hidden_layer}, the probe reads layer {layer}"
        )
    states = np.asarray(generation.hidden, dtype=np.float32)
    if states.ndim != 2 or states.shape[0] == 0:
        raise NoFeatures(f"no token states to pool (shape {states.shape})")
    if not np.isfinite(states).all():
        raise NoFeatures("hidden states contain NaN or inf")
    return states


def step_features(generation: Generation, layer: int, pooling: Pooling) -> StepFeatures:
    """Pool a generation's states of `layer`. Raises NoFeatures with the reason."""
    states = hidden_of(generation, layer)
    mean_entropy, min_logprob = baselines(generation)
    return StepFeatures(
        vector=pooling.pool(states), layer=layer, pooling=pooling.name, n_tokens=states.shape[0],
        mean_entropy=mean_entropy, min_logprob=min_logprob,
    )  # fmt: skip


def token_features(generation: Generation, layer: int, pooling: Pooling) -> StepFeatures:
    """A step as a probe that reads only token statistics sees it: the two baselines and
    an empty vector, no hidden states needed. Raises NoFeatures when the backend gave
    neither statistic (a probe would score every such step the same)."""
    mean_entropy, min_logprob = baselines(generation)
    if mean_entropy is None and min_logprob is None:
        raise NoFeatures("the generation carries no token logprobs or entropies")
    n = len(generation.logprobs or generation.entropies or [])
    return StepFeatures(
        vector=np.zeros(0, dtype=np.float32), layer=layer, pooling=pooling.name, n_tokens=n,
        mean_entropy=mean_entropy, min_logprob=min_logprob,
    )  # fmt: skip


def pooled_views(states: np.ndarray, poolings: Sequence[Pooling]) -> dict[str, np.ndarray]:
    """The same token states under several poolings, keyed by pooling name."""
    return {p.name: p.pool(states) for p in poolings}


def baseline_scores(mean_entropy: Any, min_logprob: Any) -> dict[str, np.ndarray]:
    """Baselines as alarm scores (higher = more suspicious), NaN where missing:
    `entropy` is the mean token entropy, `min_logprob` the negated minimum logprob."""
    ent = np.asarray(mean_entropy, dtype=np.float64)
    mlp = np.asarray(min_logprob, dtype=np.float64)
    return {"entropy": ent, "min_logprob": -mlp}


def message_sha(step: Step) -> str:
    return hashlib.sha256(step.message.encode("utf-8")).hexdigest()[:16]


def step_key(step: Step) -> str:
    """Identifies a step within a run (indices are unique per run; the hash guards a
    resumed run that re-proposed a different step under the same index)."""
    return f"{step.index}:{message_sha(step)}"
