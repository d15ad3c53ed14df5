"""QA pairs from notes (scripted backend) and notes + QA as self-edits."""

from __future__ import annotations

from agent.backends.fake import FakeBackend
from agent.types import SelfEditKind
from memory.note import Note
from memory.qa import (
    knowledge_system_prompt,
    note_self_edits,
    parse_qa,
    qa_from_notes,
    repo_label,
    support_problem,
)

MONEY = Note(text="`Money.parse` in `src/ledger/money.py` turns text into a `Money`.", kind="api",
             names=["Money", "Money.parse", "src/ledger/money.py"])  # fmt: skip
DATES = Note(text="`add_months` is defined in `src/ledger/dates.py`.", kind="location",
             names=["add_months", "src/ledger/dates.py"], source_run="run-7")  # fmt: skip


def test_parse_qa_forms():
    assert parse_qa("Q: Where is `Money`?\nA: `src/ledger/money.py`") == (
        "Where is `Money`?", "`src/ledger/money.py`")  # fmt: skip
    assert parse_qa("Question: What does it return?\n\nAnswer: **a Money**\nmore") == (
        "What does it return?", "a Money")  # fmt: skip
    assert parse_qa("no pair here") is None


def test_support_requires_the_notes_names():
    assert support_problem(DATES, "Where is `add_months`?", "`src/ledger/dates.py`") is None
    why = support_problem(DATES, "Where is `add_months`?", "`src/ledger/calendar.py`")
    assert why.startswith("ungrounded") and "src/ledger/calendar.py" in why
    assert support_problem(DATES, "How many days?", "31").startswith("unsupported")
    assert support_problem(DATES, "Q?", "x" * 300) == "answer too long"


def test_qa_from_notes_keeps_supported_unique_pairs():
    lm = FakeBackend([
        "Q: What does `Money.parse` return?\nA: a `Money`",
        "Q: Where is `add_months` defined?\nA: In `src/ledger/calendar.py`",  # not in its note
    ])  # fmt: skip
    pairs = qa_from_notes(lm, [MONEY, DATES], seed=5)
    assert pairs == [("What does `Money.parse` return?", "a `Money`")]
    # Few-shot examples come from a made-up repository, then the note itself.
    messages = lm.calls[0][0]
    assert "src/shop/basket.py" in messages[2].content and MONEY.text in messages[-1].content
    assert lm.calls[1][2].seed == 6


def test_duplicate_questions_are_dropped():
    lm = FakeBackend(["Q: What does `Money.parse` return?\nA: a `Money`"] * 2)
    assert len(qa_from_notes(lm, [MONEY, MONEY])) == 1


def test_self_edits_group_notes_and_hash_their_content():
    qa = [("Where does `add_months` live?", "`src/ledger/dates.py`")]
    edits = note_self_edits("ledger-0123456789ab", [MONEY, DATES], qa)
    kinds = [e.kind for e in edits]
    assert kinds.count(SelfEditKind.REPO_NOTE) == 2 and kinds.count(SelfEditKind.QA) == 1
    for edit in edits:
        assert [m.role for m in edit.messages] == ["system", "user", "assistant"]
        assert edit.messages[0].content == knowledge_system_prompt("ledger-0123456789ab")
        assert "`ledger`" in edit.messages[0].content
        assert edit.repo_id == "ledger-0123456789ab"
    # Grouped by the code name a note mentions first: the cue a question gives.
    assert {e.messages[1].content for e in edits if e.kind == SelfEditKind.REPO_NOTE} == {
        "What should I know about `Money.parse` in this repository?",
        "What should I know about `add_months` in this repository?",
    }
    note_edit = next(e for e in edits if "`add_months`" in e.messages[1].content)
    assert note_edit.messages[2].content == f"- {DATES.text}" and note_edit.source_run == "run-7"
    assert {c.name for c in note_edit.grounding.checks} == set(DATES.names)
    again = note_self_edits("ledger-0123456789ab", [MONEY, DATES], qa)
    assert [e.id for e in again] == [e.id for e in edits]
    other = note_self_edits("other-0123456789ab", [MONEY, DATES], qa)
    assert not {e.id for e in other} & {e.id for e in edits}


def test_repo_label():
    assert repo_label("toolz-a22359627929") == "toolz"
    assert repo_label("repo-5f19fb989d42") == "repo-5f19fb989d42"
