"""SelfEditStore: content-hash ids, statuses with reasons, used runs, atomic index."""

from __future__ import annotations

import json

import pytest

from agent.home import Home
from agent.types import ChatMessage, SelfEdit, SelfEditKind
from memory.demonstrations import edit_id
from memory.self_edit_store import SelfEditStore, SelfEditStoreError


def make_edit(text: str, repo_id: str = "repo-a", run: str | None = "run1", **extra) -> SelfEdit:
    msgs = [ChatMessage(role="user", content="q"), ChatMessage(role="assistant", content=text)]
    kind = extra.pop("kind", SelfEditKind.QA)
    return SelfEdit(id=edit_id(repo_id, kind, msgs), repo_id=repo_id, kind=kind, messages=msgs,
                    source_run=run, **extra)  # fmt: skip


def test_add_list_and_dedupe(tmp_path):
    store = SelfEditStore(Home(tmp_path))
    a, b = make_edit("one"), make_edit("two")
    assert store.add("repo-a", [(a, "accepted", ""), (b, "dropped", "why not")]) == [a, b]
    assert store.add("repo-a", [(make_edit("one"), "heldout", "")]) == []  # same content
    assert [e.id for e in store.list("repo-a")] == [a.id]
    assert [e.id for e in store.list("repo-a", None)] == [a.id, b.id]
    dropped = store.entries("repo-a", "dropped")
    assert dropped[0].reason == "why not"
    assert store.get("repo-a", a.id) == a


def test_used_runs_are_recorded_with_their_edits(tmp_path):
    store = SelfEditStore(Home(tmp_path))
    a = make_edit("one", run="r1")
    store.add("repo-a", [(a, "accepted", "")], runs=["r1", "r2"])
    assert store.used_runs("repo-a") == {"r1", "r2"}
    assert store.index("repo-a").runs["r1"].edits == [a.id]
    assert store.used_runs("repo-b") == set()


def test_refuses_an_edit_of_another_repo(tmp_path):
    store = SelfEditStore(Home(tmp_path))
    with pytest.raises(SelfEditStoreError):
        store.add("repo-a", [(make_edit("x", repo_id="repo-b"), "accepted", "")])


def test_layout_and_status_change(tmp_path):
    home = Home(tmp_path)
    store = SelfEditStore(home)
    a = make_edit("one")
    store.add("repo-a", [(a, "accepted", "")], task_ids={a.id: "task-1"})
    folder = home.repo_dir("repo-a") / "self_edits"
    assert (folder / "edits" / f"{a.id}.json").is_file()
    data = json.loads((folder / "index.json").read_text())
    assert data["entries"][a.id]["task_id"] == "task-1"
    store.set_status("repo-a", a.id, "dropped", "superseded")
    assert store.entries("repo-a")[0].reason == "superseded"
    assert not [p for p in folder.iterdir() if p.name.endswith((".tmp", ".partial"))]


def test_damaged_index_says_what_to_do(tmp_path):
    home = Home(tmp_path)
    store = SelfEditStore(home)
    store.add("repo-a", [(make_edit("one"), "accepted", "")])
    (home.repo_dir("repo-a") / "self_edits" / "index.json").write_text("{not json")
    with pytest.raises(SelfEditStoreError, match="move it aside"):
        store.index("repo-a")
