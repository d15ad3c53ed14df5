"""notes_from_repo / notes_from_run with a scripted backend, and NotesStore on disk."""

from __future__ import annotations

import json
import os

import pytest

from agent.backends.fake import FakeBackend
from agent.home import Home
from agent.types import Observation, Step, Task, ToolCall, Trajectory, Verification
from memory.note import Note
from memory.notes import notes_from_repo, notes_from_run
from memory.notes_store import NotesStore, NotesStoreError, notes_for_prompt, render_notes
from tests.memory.knowledge_fixtures import LEDGER, ledger_index


@pytest.fixture(scope="module")
def index():
    return ledger_index()


def _by_module(replies: dict[str, str]):
    """A reply chosen by which module's outline the prompt shows."""

    def answer(messages, options):
        prompt = messages[-1].content
        for path, reply in replies.items():
            if f"file: {path}" in prompt:
                return reply
        return "nothing to say"

    return answer


def test_notes_from_repo_grounds_each_module_reply(index):
    replies = {
        "src/ledger/money.py": "[location] `Money` is defined in `src/ledger/money.py`.\n"
        "[api] `Money.parse` turns text like 3 EUR into a `Money`.\n"
        "[location] `Currency` is defined in `src/ledger/currency.py`.",
        "src/ledger/dates.py": "[location] `add_months` is defined in `src/ledger/dates.py`.",
    }
    lm = FakeBackend([_by_module(replies)] * 10)
    result = notes_from_repo(lm, LEDGER, index, seed=3)
    texts = [n.text for n in result.kept]
    assert "`Money` is defined in `src/ledger/money.py`." in texts
    assert "`add_months` is defined in `src/ledger/dates.py`." in texts
    assert all("currency.py" not in t for t in texts)
    assert any("src/ledger/currency.py" in why for _, why in result.dropped)
    assert result.replies == 10 and all(n.source == "repo" for n in result.kept)
    # Every call is greedy, seeded per module, and shows an outline with signatures.
    first = lm.calls[0]
    assert first[2].temperature == 0 and first[2].seed == 3
    assert "def " in first[0][-1].content and "[kind] claim" in first[0][-1].content


def test_a_malformed_reply_loses_only_itself(index):
    script = ["I cannot help with that.",
              "[location] `Money` is defined in `src/ledger/money.py`."]  # fmt: skip
    result = notes_from_repo(FakeBackend(script), LEDGER, index, max_files=2)
    assert result.replies == 2 and result.malformed == 1
    assert [n.text for n in result.kept] == ["`Money` is defined in `src/ledger/money.py`."]


def test_notes_from_repo_dedupes_across_modules(index):
    same = "[location] `Money` is defined in `src/ledger/money.py`."
    result = notes_from_repo(FakeBackend([same, same, same]), LEDGER, index, max_files=3)
    assert len(result.kept) == 1 and len(result.dropped) == 2


def _trajectory() -> Trajectory:
    steps = [
        Step(index=0, message="look", action=ToolCall(name="view", arguments={"path": "src/ledger/money.py"}),
             observation=Observation(text="class Money:\n ...")),
        Step(index=1, message="oops", action=ToolCall(name="view", arguments={"path": "nope.py"}),
             observation=Observation(text="not found", ok=False), rolled_back=True),
        Step(index=2, message="test", action=ToolCall(name="run_tests", arguments={"tests": "tests/test_money.py"}),
             observation=Observation(text="3 passed")),
    ]  # fmt: skip
    return Trajectory(
        run_id="run-1", repo_id="repo-abc", model_id="m", backend="fake",
        task=Task(id="t1", repo=str(LEDGER), problem_statement="Money.split loses a cent."),
        steps=steps, final_diff="--- a/src/ledger/money.py\n+++ b/src/ledger/money.py\n",
        verification=Verification(command="pytest -q tests/test_money.py", passed=True),
    )  # fmt: skip


def test_notes_from_run_sees_kept_steps_and_diff(index):
    reply = ("[testing] Run `pytest -q tests/test_money.py` to check `Money.split`.\n"
             "[pitfall] `Money.split` must hand out the remainder cent by cent.\n"
             "[location] `Money.round_to` rounds amounts and lives in `src/ledger/money.py`.")  # fmt: skip
    lm = FakeBackend([reply])
    result = notes_from_run(lm, _trajectory(), LEDGER, index)
    prompt = lm.calls[0][0][-1].content
    assert "Money.split loses a cent." in prompt and "+++ b/src/ledger/money.py" in prompt
    assert "nope.py" not in prompt  # a rolled-back step is not part of the run
    assert "pytest -q tests/test_money.py" in prompt
    assert [n.kind for n in result.kept] == ["testing", "pitfall"]
    assert all(n.source == "agent" and n.source_run == "run-1" for n in result.kept)
    assert "Money.round_to" in result.dropped[0][1]


# --------------------------------------------------------------------------- the store


def _note(text: str, kind: str = "location", names=("Money",)) -> Note:
    return Note(text=text, kind=kind, names=list(names))


def test_store_round_trip_and_dedupe(tmp_path):
    store = NotesStore(Home(tmp_path))
    a = _note(
        "`Money` is defined in `src/ledger/money.py`.", names=["Money", "src/ledger/money.py"]
    )
    b = _note("`Journal` is defined in `src/ledger/journal.py`.", names=["Journal"])
    assert store.add("repo-1", [a, b]) == [a, b]
    again = _note(
        "`Money` is defined in src/ledger/money.py", names=["Money", "src/ledger/money.py"]
    )
    assert store.add("repo-1", [again]) == []
    assert store.load("repo-1") == [a, b]
    assert store.load("repo-2") == []
    data = json.loads(store.path("repo-1").read_text())
    assert data["format_version"] == 1 and len(data["notes"]) == 2


def test_store_write_is_atomic(tmp_path, monkeypatch):
    store = NotesStore(Home(tmp_path))
    first = _note("`Money` is defined in `src/ledger/money.py`.")
    store.add("repo-1", [first])

    def crash(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(OSError):
        store.add("repo-1", [_note("`Journal` holds postings.", names=["Journal"])])
    monkeypatch.undo()
    assert store.load("repo-1") == [first]  # the old list, whole
    leftovers = [p.name for p in store.path("repo-1").parent.iterdir()]
    assert sorted(leftovers) == ["notes.json", "notes.lock"]


def test_store_refuses_unknown_format(tmp_path):
    store = NotesStore(Home(tmp_path))
    store.path("r").parent.mkdir(parents=True)
    store.path("r").write_text('{"format_version": 9, "notes": []}')
    with pytest.raises(NotesStoreError, match="format_version"):
        store.load("r")


def test_notes_for_prompt_fits_budget_and_mixes_kinds(tmp_path):
    home = Home(tmp_path)
    assert notes_for_prompt(home, "repo-1") is None
    notes = [_note(f"`Money` fact number {i} is here.", names=[f"n{i}"]) for i in range(30)]
    notes.append(_note("Run `pytest -q` from the root.", kind="testing", names=[]))
    NotesStore(home).add("repo-1", notes)
    text = notes_for_prompt(home, "repo-1", max_chars=300)
    assert text is not None and len(text) <= 300
    assert "Run `pytest -q` from the root." in text  # the testing note is not crowded out
    assert render_notes([]) is None


def test_the_bench_seam_reads_the_store(tmp_path):
    from bench.memory_ops import EngramMemory

    home = Home(tmp_path)
    assert EngramMemory().notes(home, "repo-1") is None
    NotesStore(home).add("repo-1", [_note("`Money` is defined in `src/ledger/money.py`.")])
    assert "`Money` is defined in `src/ledger/money.py`." in EngramMemory().notes(home, "repo-1")
