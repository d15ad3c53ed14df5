"""Token losses for causal-LM fine-tuning: plain cross-entropy, or EAFT.

EAFT weights each target token's cross-entropy by how unsure the model itself is at
that position, measured as the entropy of its prediction restricted to the top k
tokens (k = 20) and normalised to [0, 1]:

    p̃_t     = softmax(top-k logits at position t)          (renormalised over the top k)
    w_t     = H(p̃_t) / log k = −Σ_i p̃_t,i log p̃_t,i / log k
    L_EAFT  = (1/N) Σ_t  stopgrad(w_t) · CE_t                (N = target tokens in the step)

Where the model is confident (low entropy) the weight is near 0, so fine-tuning does
not fight knowledge the model holds firmly — the "confident conflict" that drives
forgetting; where it is unsure, the token trains at nearly full strength. The weight
is computed without gradient: it steers the update, it is not itself optimised (that
would reward the model for becoming more confident everywhere).

Dividing by N rather than Σ w_t keeps the loss on the same scale as CE's, so EAFT
takes smaller steps overall (by the mean weight): that is the point, not a bug.
torch is imported inside the functions (no import side effects).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

DEFAULT_TOP_K = 20
LossKind = Literal["ce", "eaft"]


def topk_entropy_weights(logits: Any, k: int = DEFAULT_TOP_K) -> Any:
    """Normalised top-k entropy per position: [..., vocab] → [...], in [0, 1], no grad."""
    import torch

    if k < 2:
        raise ValueError("top-k entropy needs k >= 2")
    with torch.no_grad():
        k = min(k, logits.shape[-1])
        top = logits.detach().float().topk(k, dim=-1).values
        logp = torch.log_softmax(top, dim=-1)
        entropy = -(logp.exp() * logp).sum(dim=-1)
        return (entropy / math.log(k)).clamp_(0.0, 1.0)


@dataclass
class LossTerms:
    """Sums over one micro-batch; the trainer divides by the step's total target count."""

    objective_sum: Any  # tensor with grad: Σ w_t·CE_t (EAFT) or Σ CE_t (CE)
    ce_sum: float
    weight_sum: float
    tokens: int


def token_loss_terms(
    logits: Any, targets: Any, kind: LossKind = "eaft", k: int = DEFAULT_TOP_K
) -> LossTerms:
    """`logits` [N, vocab] at the positions that predict `targets` [N] (already shifted)."""
    import torch.nn.functional as F

    if logits.shape[0] != targets.shape[0]:
        raise ValueError(f"{logits.shape[0]} logit rows for {targets.shape[0]} targets")
    ce = F.cross_entropy(logits.float(), targets, reduction="none")
    if kind == "eaft":
        weights = topk_entropy_weights(logits, k)
        objective = (weights * ce).sum()
        weight_sum = float(weights.sum())
    elif kind == "ce":
        objective = ce.sum()
        weight_sum = float(ce.numel())
    else:
        raise ValueError(f"unknown loss {kind!r}: use 'ce' or 'eaft'")
    return LossTerms(
        objective_sum=objective,
        ce_sum=float(ce.detach().sum()),
        weight_sum=weight_sum,
        tokens=int(ce.numel()),
    )
