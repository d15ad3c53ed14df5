"""`learn` wiring to repo notes (memory.notes, the knowledge side) and ReST-EM, with a fake
notes module standing in for the other branch; the model, training and scoring are real
(tiny model)."""

from __future__ import annotations

import sys
import types

import pytest

from agent.types import ChatMessage, SelfEdit, SelfEditKind
from memory.demonstrations import edit_id
from memory.learn import LearnError, learn
from memory.self_edit_store import SelfEditStore
from tests.memory.learn_setup import TRAINER, FakeEvaluators, make_setup, tiny_lm
from tests.memory.runs import retold, stored_runs, write_runs


@pytest.fixture
def fake_notes(monkeypatch):
    calls: dict[str, list] = {"from_run": [], "stored": []}
    module = types.ModuleType("memory.notes")

    class Result:
        def __init__(self, kept):
            self.kept, self.dropped = kept, []

    def notes_from_run(lm, trajectory, repo_root, index, *, seed=0):
        calls["from_run"].append((trajectory.run_id, seed))
        return Result([f"{trajectory.task.id} is fixed in src/ledger (sample {seed})"])

    def qa_from_notes(lm, notes, *, seed=0):
        return [(f"Where? ({n})", n) for n in notes]

    def note_self_edits(repo_id, notes, qa):
        out = []
        for q, a in qa:
            msgs = [ChatMessage(role="user", content=q), ChatMessage(role="assistant", content=a)]
            out.append(SelfEdit(id=edit_id(repo_id, SelfEditKind.QA, msgs), repo_id=repo_id,
                                kind=SelfEditKind.QA, messages=msgs))  # fmt: skip
        return out

    class NotesStore:
        def __init__(self, home):
            pass

        def add(self, repo_id, notes):
            calls["stored"].append((repo_id, list(notes)))
            return notes

    for name, value in dict(notes_from_run=notes_from_run, qa_from_notes=qa_from_notes,
                            note_self_edits=note_self_edits, NotesStore=NotesStore).items():  # fmt: skip
        setattr(module, name, value)
    monkeypatch.setitem(sys.modules, "memory.notes", module)
    return calls


def test_notes_and_qa_become_self_edits(tmp_path, fake_notes):
    s = make_setup(tmp_path)
    result = learn(s.repo, s.home, s.config, lm=tiny_lm(), trainer=TRAINER,
                   evaluators=FakeEvaluators())  # fmt: skip
    kinds = [e.kind for e in SelfEditStore(s.home).list(s.repo_id)]
    assert kinds.count(SelfEditKind.QA) == 2 and kinds.count(SelfEditKind.DEMONSTRATION) == 2
    assert len(result.self_edit_hashes) == 4
    assert [seed for _, seed in fake_notes["from_run"]] == [0, 0]
    assert len(fake_notes["stored"]) == 2


def test_rest_em_keeps_one_variant_per_run_and_drops_the_rest(tmp_path, fake_notes):
    s = make_setup(tmp_path)
    write_runs(s.home.runs, [retold(stored_runs()[0], s.repo_id, "third", "t3")])
    messages: list[str] = []
    # First learn: three demonstrations, one held out — the checks ReST-EM scores on.
    learn(s.repo, s.home, s.config, lm=tiny_lm(), notes=False, trainer=TRAINER,
          evaluators=FakeEvaluators())  # fmt: skip
    write_runs(s.home.runs, [retold(stored_runs()[1], s.repo_id, "fourth", "t4")])
    result = learn(s.repo, s.home, s.config, lm=tiny_lm(), rest_em=2, trainer=TRAINER,
                   evaluators=FakeEvaluators(), progress=messages.append)  # fmt: skip
    assert result is not None
    assert [seed for run, seed in fake_notes["from_run"] if run == "fourth"] == [0, 1]
    assert sum("ReST-EM sample" in m for m in messages) == 2
    entries = SelfEditStore(s.home).entries(s.repo_id)
    qa = [e for e in entries if e.kind == SelfEditKind.QA]
    assert sorted(e.status for e in qa) == ["accepted", "dropped"]
    assert "ReST-EM: sample" in next(e.reason for e in qa if e.status == "dropped")


def test_rest_em_needs_the_notes_module(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "memory.notes", None)  # import fails
    s = make_setup(tmp_path)
    with pytest.raises(LearnError, match=r"memory\.notes"):
        learn(s.repo, s.home, s.config, lm=tiny_lm(), rest_em=2, trainer=TRAINER,
              evaluators=FakeEvaluators())  # fmt: skip


def test_self_edits_holding_a_repo_question_are_never_trained_on(tmp_path, fake_notes,
                                                                  monkeypatch):  # fmt: skip
    from memory.repo_eval import held_out_questions

    s = make_setup(tmp_path)
    questions = held_out_questions(s.repo, s.home, s.repo_id)
    assert questions, "the ledger checkout must give evaluation questions"
    asked = questions[0]
    module = sys.modules["memory.notes"]

    def leaky_qa(lm, notes, *, seed=0):  # a model that happens to write an eval question
        return [(asked.question.upper(), asked.answer)] + [(f"Where? ({n})", n) for n in notes]

    monkeypatch.setattr(module, "qa_from_notes", leaky_qa)
    messages: list[str] = []
    result = learn(s.repo, s.home, s.config, lm=tiny_lm(), trainer=TRAINER,
                   evaluators=FakeEvaluators(), progress=messages.append)  # fmt: skip
    store = SelfEditStore(s.home)
    dropped = [e for e in store.list(s.repo_id, "dropped")]
    leaked = [e for e in dropped if asked.answer in e.messages[-1].content
              and asked.question.upper() in e.messages[0].content]  # fmt: skip
    assert leaked and all(e.id not in result.self_edit_hashes for e in leaked)
    reasons = [r.reason for r in store.entries(s.repo_id) if r.id in {e.id for e in leaked}]
    assert all(asked.id in (reason or "") for reason in reasons)
    assert any("held-out repo question" in m for m in messages)
