"""Selection: one demonstration per task, a held-out share, bootstrap never held out."""

from __future__ import annotations

from agent.types import ChatMessage, SelfEditKind
from memory.selection import Candidate, select
from memory.self_edit_store import EditEntry
from tests.memory.test_self_edit_store import make_edit


def demo(text: str, turns: int = 1, source: str = "agent"):
    edit = make_edit(text, kind=SelfEditKind.DEMONSTRATION, source=source)
    extra = [ChatMessage(role="assistant", content="x")] * (turns - 1)
    return edit.model_copy(update={"messages": edit.messages + extra})


def test_one_demonstration_per_task_the_most_direct():
    long, short = demo("long", turns=3), demo("short", turns=1)
    out = select([Candidate(long, "t1"), Candidate(short, "t1")], [])
    status = {s.edit.id: s.status for s in out}
    assert status[short.id] == "accepted" and status[long.id] == "dropped"
    assert "t1" in next(s.reason for s in out if s.edit.id == long.id)


def test_task_already_kept_drops_a_new_run_of_it():
    entry = EditEntry(id="old", kind=SelfEditKind.DEMONSTRATION, status="accepted", task_id="t1")
    out = select([Candidate(demo("again"), "t1")], [entry])
    assert [s.status for s in out] == ["dropped"]


def test_held_out_share_once_there_are_enough():
    two = select([Candidate(demo(f"d{i}"), f"t{i}") for i in range(2)], [])
    assert all(s.status == "accepted" for s in two)
    out = select([Candidate(demo(f"d{i}"), f"t{i}") for i in range(8)], [])
    held = [s for s in out if s.status == "heldout"]
    assert 1 <= len(held) < 8 // 2


def test_bootstrap_demonstrations_are_never_held_out():
    out = select([Candidate(demo(f"b{i}", source="bootstrap"), f"t{i}") for i in range(8)], [])
    assert all(s.status == "accepted" for s in out)


def test_known_ids_are_skipped_and_empty_notes_dropped():
    known = demo("known")
    entry = EditEntry(id=known.id, kind=SelfEditKind.DEMONSTRATION, status="accepted")
    empty = make_edit("   ")
    out = select([Candidate(known, "t9"), Candidate(empty)], [entry])
    assert [(s.edit.id, s.status) for s in out] == [(empty.id, "dropped")]
