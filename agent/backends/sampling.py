"""Next-token choice and per-token statistics from raw logits, in numpy.

For backends that hand over the model's logits (llama.cpp) and leave the rest to us.
What is recorded follows the protocol (agent/backends/base.py): `logprob`, `entropy` and
the top alternatives come from the model's raw distribution, before logit bias,
temperature or top-p. The choice then applies, in this order: logit bias, a constraint
(grammar) mask, temperature, top-p; temperature 0 is greedy (argmax).

A constraint is checked lazily: the unconstrained choice is tried first and the full
mask is computed only when the constraint refuses it. For greedy decoding that is the
argmax of the masked logits. For sampling it is also exact: drawing from p and, on
refusal, drawing again from p restricted to the allowed tokens gives each allowed token
p(y) + (1 - A)·p(y)/A = p(y)/A, the restricted distribution (A: mass of the allowed set).
With top-p < 1 the nucleus is taken over the allowed tokens on the second draw only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# How many candidates top-p looks at before sorting the whole vocabulary: the nucleus
# of a real distribution is almost always far smaller, and argsort of 150k floats costs
# ~10 ms per token where argpartition + a small sort costs well under one.
_NUCLEUS_CANDIDATES = 2048


@dataclass
class TokenStats:
    logprobs: np.ndarray  # float32 [vocab], raw log-softmax
    entropy: float

    def logprob(self, token: int) -> float:
        return float(self.logprobs[token])

    def top(self, k: int) -> list[tuple[int, float]]:
        if k <= 0:
            return []
        ids = np.argpartition(-self.logprobs, k - 1)[:k]
        ids = ids[np.argsort(-self.logprobs[ids], kind="stable")]
        return [(int(i), float(self.logprobs[i])) for i in ids]


def token_stats(logits: np.ndarray) -> TokenStats:
    """Raw log-softmax and entropy (nats) of one position's logits."""
    shifted = logits.astype(np.float32, copy=True)
    shifted -= shifted.max()
    probs = np.exp(shifted)
    total = probs.sum(dtype=np.float64)
    logprobs = shifted - np.float32(np.log(total))
    probs /= np.float32(total)
    # entr(p) = -p log p, with 0 for p = 0 (logprob -inf where a logit underflows).
    mask = probs > 0
    entropy = float(-(probs[mask] * logprobs[mask]).sum(dtype=np.float64))
    return TokenStats(logprobs, entropy)


class Chooser:
    """Picks each next token for one generation (holds its seeded random state)."""

    def __init__(
        self,
        vocab_size: int,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logit_bias: dict[int, float] | None = None,
    ):
        bias = logit_bias or {}
        bad = sorted(i for i in bias if not 0 <= i < vocab_size)
        if bad:
            raise ValueError(f"logit_bias names token ids outside the vocabulary: {bad[:5]}")
        if not 0 < top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        self.temperature = temperature
        self.top_p = top_p
        self.rng = np.random.default_rng(seed)
        self.bias_ids = np.fromiter(bias.keys(), dtype=np.int64, count=len(bias))
        self.bias_values = np.fromiter(bias.values(), dtype=np.float32, count=len(bias))

    def _biased(self, logits: np.ndarray) -> np.ndarray:
        if not len(self.bias_ids):
            return logits
        out = logits.copy()
        out[self.bias_ids] += self.bias_values
        return out

    def choose(
        self,
        logits: np.ndarray,
        allowed: Callable[[int], bool] | None = None,
        mask: Callable[[], np.ndarray] | None = None,
    ) -> int:
        """The next token. `allowed(token)` and `mask()` (bool [vocab]) express a
        constraint; without them every token may be chosen."""
        scores = self._biased(logits)
        token = self._pick(scores)
        if allowed is None or allowed(token):
            return token
        assert mask is not None
        ok = mask()
        if not ok.any():
            raise ValueError("the constraint allows no token at all here")
        scores = np.where(ok, scores, -np.inf).astype(np.float32)
        return self._pick(scores)

    def _pick(self, scores: np.ndarray) -> int:
        if self.temperature <= 0:
            return int(np.argmax(scores))
        z = scores / np.float32(self.temperature)
        finite = np.isfinite(z)
        z = np.where(finite, z - z[finite].max(), -np.inf)
        probs = np.exp(z, dtype=np.float64)
        probs /= probs.sum()
        if self.top_p < 1.0:
            ids, p = _nucleus(probs, self.top_p)
            return int(ids[_draw(p, self.rng)])
        return int(_draw(probs, self.rng))


def _draw(probs: np.ndarray, rng: np.random.Generator) -> int:
    cdf = np.cumsum(probs)
    index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(index, len(probs) - 1)


def _nucleus(probs: np.ndarray, top_p: float) -> tuple[np.ndarray, np.ndarray]:
    """The smallest set of most likely tokens whose mass reaches top_p, renormalised."""
    k = min(_NUCLEUS_CANDIDATES, len(probs))
    ids = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
    ids = ids[np.argsort(-probs[ids], kind="stable")]
    cum = np.cumsum(probs[ids])
    if cum[-1] < top_p and k < len(probs):  # a flat distribution: sort everything
        ids = np.argsort(-probs, kind="stable")
        cum = np.cumsum(probs[ids])
    keep = int(np.searchsorted(cum, top_p, side="left")) + 1
    ids = ids[: min(keep, len(ids))]
    p = probs[ids]
    return ids, p / p.sum()
