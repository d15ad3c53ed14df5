"""Safe bounds for the training hyperparameters a self-edit may ask for.

The model proposes hyperparameters with its self-edits (as SEAL lets it); we let it
choose within a range where one consolidation cannot wreck the base model or take
hours on a CPU, and we say what we changed. Bounds (and why):

| field         | default | allowed                | why |
|---------------|---------|------------------------|-----|
| learning_rate | 1e-4    | 1e-5 … 3e-4 (log clip) | above ~3e-4 LoRA on a 0.5B model forgets fast; below 1e-5 a few steps learn nothing |
| epochs        | 2       | 1 … 4                  | few, good examples: more epochs memorise the text instead of the facts |
| lora_rank     | 16      | 4, 8, 16, 32 (nearest) | 16 on all 7 projections is 35 MB and ~6 s/step on 2 cores; 32 doubles both |
| lora_alpha    | 2×rank  | rank … 4×rank          | alpha/rank scales the update; 1–4 keeps it near the well-tested 2 |
| loss          | eaft    | ce, eaft (or config)   | anything else is unknown to the trainer |

Anything non-numeric, NaN or infinite falls back to the default. The input may be a
`TrainingHyperparams`, a loose mapping as a model wrote it (aliases `lr`, `rank`/`r`,
`alpha`, strings like "3e-4"), or None.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.types import TrainingHyperparams

LR_MIN, LR_MAX, LR_DEFAULT = 1e-5, 3e-4, 1e-4
EPOCHS_MIN, EPOCHS_MAX, EPOCHS_DEFAULT = 1, 4, 2
RANKS = (4, 8, 16, 32)
RANK_DEFAULT = 16
ALPHA_RATIO_MIN, ALPHA_RATIO_MAX, ALPHA_RATIO_DEFAULT = 1, 4, 2
LOSSES = ("ce", "eaft")

ALIASES = {
    "lr": "learning_rate",
    "learning_rate": "learning_rate",
    "epochs": "epochs",
    "num_epochs": "epochs",
    "rank": "lora_rank",
    "r": "lora_rank",
    "lora_rank": "lora_rank",
    "alpha": "lora_alpha",
    "lora_alpha": "lora_alpha",
    "loss": "loss",
}


@dataclass(frozen=True)
class Clamped:
    hyperparams: TrainingHyperparams
    changes: list[str]  # one line per value that was not taken as proposed

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clamp_hyperparams(
    proposed: TrainingHyperparams | Mapping[str, Any] | None,
    default_loss: str = "eaft",
    allowed_losses: Iterable[str] = LOSSES,
) -> Clamped:
    """Bring a proposal within bounds; `changes` says what was altered and why."""
    allowed = tuple(loss for loss in allowed_losses if loss in LOSSES) or LOSSES
    if default_loss not in allowed:
        default_loss = allowed[0]
    if proposed is None:
        raw: dict[str, Any] = {}
    elif isinstance(proposed, TrainingHyperparams):
        raw = proposed.model_dump()
    else:
        raw = {}
        for key, value in proposed.items():
            raw[ALIASES.get(str(key).strip().lower(), str(key))] = value
    changes: list[str] = []
    for key in sorted(set(raw) - set(TrainingHyperparams.model_fields)):
        changes.append(f"{key}: ignored (not a tunable hyperparameter)")

    lr = _number(raw.get("learning_rate"))
    if lr is None or lr <= 0:
        if "learning_rate" in raw:
            changes.append(f"learning_rate: {raw['learning_rate']!r} unusable → {LR_DEFAULT}")
        lr = LR_DEFAULT
    elif not LR_MIN <= lr <= LR_MAX:
        clipped = min(max(lr, LR_MIN), LR_MAX)
        changes.append(f"learning_rate: {lr:g} outside [{LR_MIN:g}, {LR_MAX:g}] → {clipped:g}")
        lr = clipped

    epochs_raw = _number(raw.get("epochs"))
    if epochs_raw is None:
        if "epochs" in raw:
            changes.append(f"epochs: {raw['epochs']!r} unusable → {EPOCHS_DEFAULT}")
        epochs = EPOCHS_DEFAULT
    else:
        epochs = min(max(round(epochs_raw), EPOCHS_MIN), EPOCHS_MAX)
        if epochs != epochs_raw:
            changes.append(f"epochs: {epochs_raw:g} → {epochs} (allowed {EPOCHS_MIN}…{EPOCHS_MAX})")

    rank_raw = _number(raw.get("lora_rank"))
    if rank_raw is None or rank_raw <= 0:
        if "lora_rank" in raw:
            changes.append(f"lora_rank: {raw['lora_rank']!r} unusable → {RANK_DEFAULT}")
        rank = RANK_DEFAULT
    else:
        # Nearest on a log scale: 24 is as far from 16 as from 32 in what it costs.
        rank = min(RANKS, key=lambda r: (abs(math.log2(r) - math.log2(rank_raw)), -r))
        if rank != rank_raw:
            changes.append(
                f"lora_rank: {rank_raw:g} → {rank} (allowed {', '.join(map(str, RANKS))})"
            )

    alpha_raw = _number(raw.get("lora_alpha"))
    if alpha_raw is None or alpha_raw <= 0:
        if "lora_alpha" in raw:
            changes.append(
                f"lora_alpha: {raw['lora_alpha']!r} unusable → {ALPHA_RATIO_DEFAULT}×rank"
            )
        alpha = ALPHA_RATIO_DEFAULT * rank
    else:
        alpha = min(max(round(alpha_raw), ALPHA_RATIO_MIN * rank), ALPHA_RATIO_MAX * rank)
        if alpha != alpha_raw:
            changes.append(
                f"lora_alpha: {alpha_raw:g} → {alpha} (allowed {ALPHA_RATIO_MIN}…"
                f"{ALPHA_RATIO_MAX}×rank = {ALPHA_RATIO_MIN * rank}…{ALPHA_RATIO_MAX * rank})"
            )

    loss_raw = raw.get("loss")
    loss = str(loss_raw).strip().lower() if loss_raw is not None else default_loss
    if loss not in allowed:
        changes.append(f"loss: {loss_raw!r} not in {list(allowed)} → {default_loss}")
        loss = default_loss

    params = TrainingHyperparams(
        learning_rate=lr, epochs=epochs, lora_rank=rank, lora_alpha=alpha, loss=loss
    )
    return Clamped(params, changes)


def combine_hyperparams(
    proposals: Iterable[TrainingHyperparams | Mapping[str, Any] | None],
    default_loss: str = "eaft",
    allowed_losses: Iterable[str] = LOSSES,
) -> Clamped:
    """One setting for a consolidation over many self-edits: each proposal is clamped,
    then the median of each number (and the most common loss) is taken, so one extreme
    proposal cannot dominate."""
    allowed = tuple(allowed_losses)
    clamped = [clamp_hyperparams(p, default_loss, allowed) for p in proposals]
    if not clamped:
        return clamp_hyperparams(None, default_loss, allowed)
    items = [c.hyperparams for c in clamped]
    losses = [h.loss for h in items]
    merged = {
        "learning_rate": statistics.median(h.learning_rate for h in items),
        "epochs": statistics.median_low(h.epochs for h in items),
        "lora_rank": statistics.median_low(h.lora_rank for h in items),
        "lora_alpha": statistics.median_low(h.lora_alpha for h in items),
        # Ties go to the default loss: it is the one we trust most.
        "loss": max(sorted(set(losses)), key=lambda x: (losses.count(x), x == default_loss)),
    }
    result = clamp_hyperparams(merged, default_loss, allowed)
    changes = [line for c in clamped for line in c.changes] + result.changes
    return Clamped(result.hyperparams, changes)
