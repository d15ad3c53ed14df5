"""ReST-EM's outer loop (SEAL): sample K self-edits per trajectory, keep the one that helps.

For one trajectory, `best_variant` asks `propose(sample)` for K candidate self-edit
sets (sample 0 greedy, the others sampled with temperature and their own seed), scores
each with `score(edits)` — train briefly on them, measure on held-out repo checks,
lower is better — and keeps the best. It is costly: K short trainings per trajectory.

Pure loop; `learn` supplies the real `propose` (repo notes + QA from the run, written by
the model: `memory.notes`, imported lazily) and `score` (a few LoRA steps on the
demonstration + the variant, then the held-out next-action loss). A variant that fails
to produce anything or to train is recorded with its error and never chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.types import SelfEdit

VARIANT_TEMPERATURE = 0.8


@dataclass
class Variant:
    sample: int
    edits: list[SelfEdit] = field(default_factory=list)
    score: float | None = None
    error: str | None = None


def best_variant(
    k: int,
    propose: Callable[[int], list[SelfEdit]],
    score: Callable[[list[SelfEdit]], float],
    report: Callable[[str], None] | None = None,
) -> tuple[Variant | None, list[Variant]]:
    """(the best variant or None when none could be scored, all variants)."""
    if k < 1:
        raise ValueError("ReST-EM needs K ≥ 1 samples per trajectory")
    say = report or (lambda _m: None)
    variants: list[Variant] = []
    for sample in range(k):
        variant = Variant(sample)
        try:
            variant.edits = propose(sample)
            if not variant.edits:
                variant.error = "no self-edit survived (nothing grounded to learn)"
            else:
                variant.score = float(score(variant.edits))
        except Exception as exc:  # one bad sample must not end the loop
            variant.error = f"{type(exc).__name__}: {exc}"
        variants.append(variant)
        shown = f"{variant.score:.4f}" if variant.score is not None else variant.error
        say(f"ReST-EM sample {sample + 1}/{k}: {len(variant.edits)} edit(s), score {shown}")
    scored = [v for v in variants if v.score is not None]
    if not scored:
        return None, variants
    return min(scored, key=lambda v: (v.score, v.sample)), variants
