"""Workspace creation: the private clone and its seeded snapshot store (real git, no Docker)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sandboxes.workspace import Workspace


def loose_objects(git_dir: Path) -> int:
    return sum(1 for p in (git_dir / "objects").glob("??/*"))


def test_first_snapshot_of_a_clean_checkout_writes_only_its_commit(git_repo, tmp_path):
    ws = Workspace.create(git_repo, tmp_path / "ws", tmp_path / "snap.git", "seeded")
    before = loose_objects(tmp_path / "snap.git")
    ref = ws.snapshots.snapshot("again")
    # One new object: the commit. Every blob and tree came with the seed.
    assert loose_objects(tmp_path / "snap.git") == before + 1
    assert ws.snapshots.tree_of(ref) == ws.snapshots.tree_of(ws.base_commit)


def test_recreating_a_workspace_keeps_an_existing_store(git_repo, tmp_path):
    ws = Workspace.create(git_repo, tmp_path / "ws", tmp_path / "snap.git", "resume")
    (ws.path / "pkg" / "core.py").write_text("changed\n")
    changed = ws.snapshots.snapshot("step 1")
    shutil.rmtree(ws.path)
    again = Workspace.create(git_repo, tmp_path / "ws", tmp_path / "snap.git", "resume")
    assert again.base_snapshot == ws.base_snapshot
    again.snapshots.restore(changed)
    assert (again.path / "pkg" / "core.py").read_text() == "changed\n"


def test_the_store_forgets_the_users_remote(git_repo, tmp_path):
    ws = Workspace.create(git_repo, tmp_path / "ws", tmp_path / "snap.git", "remote")
    assert "[remote" not in (ws.snapshots.git_dir / "config").read_text()
