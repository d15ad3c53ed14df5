"""Few and good: which new self-edits are trained on, held out, or dropped (and why).

Pure logic over what `learn` collected from new runs:

- the same content twice is one self-edit (ids are content hashes; the store dedupes);
- one demonstration per task: of several verified runs of one task, the one with the
  fewest assistant turns is kept (the most direct path); the others are dropped with the
  reason;
- a share of the demonstrations is held out for the repo evaluation (the held-out
  next-action loss): chosen by the edit's hash (stable, no RNG state), and at least one
  as soon as there are `MIN_FOR_HELDOUT` demonstrations, so the gate has a repo
  measurement the candidate never trained on. Bootstrap demonstrations are never held
  out: the evaluation measures the agent's own verified behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from agent.types import SelfEdit, SelfEditKind
from memory.self_edit_store import EditEntry, EditStatus

HELDOUT_EVERY = 4  # about one demonstration in four is evaluation data
MIN_FOR_HELDOUT = 3  # below this, everything trains: too little to split


@dataclass(frozen=True)
class Candidate:
    edit: SelfEdit
    task_id: str | None = None  # demonstrations: the task the run solved


@dataclass(frozen=True)
class Selected:
    edit: SelfEdit
    status: EditStatus
    reason: str


def _turns(edit: SelfEdit) -> int:
    return sum(1 for m in edit.messages if m.role == "assistant")


def _size(edit: SelfEdit) -> int:
    return sum(len(m.content) for m in edit.messages)


def select(
    candidates: Sequence[Candidate],
    existing: Sequence[EditEntry],
    heldout_every: int = HELDOUT_EVERY,
) -> list[Selected]:
    """Decide the status of each new candidate; `existing` are the store's entries."""
    known = {e.id for e in existing}
    taken_tasks = {e.task_id for e in existing if e.task_id and e.status != "dropped"}
    out: list[Selected] = []
    seen: set[str] = set()

    demos = [c for c in candidates if c.edit.kind == SelfEditKind.DEMONSTRATION]
    others = [c for c in candidates if c.edit.kind != SelfEditKind.DEMONSTRATION]
    # Best first within a task: fewest turns, then shortest text, then id (stable).
    demos.sort(key=lambda c: (c.task_id or "", _turns(c.edit), _size(c.edit), c.edit.id))
    kept_demos: list[Candidate] = []
    for cand in demos:
        if cand.edit.id in known or cand.edit.id in seen:
            continue
        seen.add(cand.edit.id)
        if cand.task_id is not None and cand.task_id in taken_tasks:
            out.append(Selected(cand.edit, "dropped",
                                f"another verified run of task {cand.task_id} is already kept"))  # fmt: skip
            continue
        if cand.task_id is not None:
            taken_tasks.add(cand.task_id)
        kept_demos.append(cand)

    held_before = sum(1 for e in existing if e.status == "heldout")
    demo_total = sum(1 for e in existing
                     if e.kind == SelfEditKind.DEMONSTRATION and e.status != "dropped")  # fmt: skip
    demo_total += len(kept_demos)
    held_now = 0
    for cand in kept_demos:
        eligible = cand.edit.source == "agent" and demo_total >= MIN_FOR_HELDOUT
        by_hash = int(cand.edit.id[:8], 16) % heldout_every == 0
        if eligible and (by_hash or held_before + held_now == 0):
            held_now += 1
            out.append(Selected(cand.edit, "heldout", "held out for the repo evaluation"))
        else:
            out.append(Selected(cand.edit, "accepted", ""))

    for cand in others:
        if cand.edit.id in known or cand.edit.id in seen:
            continue
        seen.add(cand.edit.id)
        if not any(m.role == "assistant" and m.content.strip() for m in cand.edit.messages):
            out.append(Selected(cand.edit, "dropped", "no assistant text to learn from"))
            continue
        out.append(Selected(cand.edit, "accepted", ""))
    return out
