"""Adversarial tests of what runs on the host for the agent: tool file access and snapshots.

`read_file`/`write_file`, snapshot and restore run in engram's own process, outside the
container, on a tree the agent controls. The agent plants the traps from inside the
Docker sandbox (symlinks with host paths, FIFOs, sparse files, git config); each test
checks one way out stays closed and that the host file it aims at is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import sandboxes.base as base
from sandboxes.base import FileTooLarge, NotARegularFile, PathOutsideWorkspace
from sandboxes.container import DockerSandbox

pytestmark = pytest.mark.docker

SECRET = b"host secret, never to be read by the agent\n"


@pytest.fixture
def box(sandbox_image, workspace):
    with DockerSandbox(workspace) as sandbox:
        yield sandbox


@pytest.fixture
def outside(tmp_path) -> Path:
    """A host directory next to the workspace holding a secret file."""
    directory = tmp_path / "outside"
    directory.mkdir()
    (directory / "secret.txt").write_bytes(SECRET)
    return directory


def assert_untouched(outside: Path) -> None:
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == SECRET


# -- tool arguments ------------------------------------------------------------


@pytest.mark.parametrize("path", ["..", "../outside/secret.txt", "pkg/../../outside/secret.txt",
                                  "./pkg/../../../etc/passwd"])  # fmt: skip
def test_dotdot_cannot_leave_the_workspace(box, outside, path):
    with pytest.raises(PathOutsideWorkspace):
        box.read_file(path)
    with pytest.raises(PathOutsideWorkspace):
        box.write_file(path, b"x")
    assert_untouched(outside)


def test_absolute_paths_outside_are_refused(box, outside):
    for path in [str(outside / "secret.txt"), "/etc/passwd", "/workspace/../etc/passwd"]:
        with pytest.raises(PathOutsideWorkspace):
            box.read_file(path)
        with pytest.raises(PathOutsideWorkspace):
            box.write_file(path, b"x")
    assert_untouched(outside)


def test_absolute_paths_inside_are_accepted(box):
    box.write_file("/workspace/in.txt", b"a")
    assert box.read_file(str(box.workspace / "in.txt")) == b"a"


def test_symlink_to_a_host_file_is_refused(box, outside):
    # The container cannot see the host path, but the host-side tool would follow it.
    box.execute(f"ln -s {outside / 'secret.txt'} leak")
    with pytest.raises(PathOutsideWorkspace):
        box.read_file("leak")
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("leak", b"overwritten")
    assert_untouched(outside)


def test_symlink_to_a_directory_outside_is_refused(box, outside):
    box.execute(f"ln -s {outside} door")
    with pytest.raises(PathOutsideWorkspace):
        box.read_file("door/secret.txt")
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("door/planted.txt", b"x")
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("door/new/dir/planted.txt", b"x")
    assert_untouched(outside)


def test_symlink_chain_leading_out_is_refused(box, outside):
    box.execute(f"ln -s {outside / 'secret.txt'} c && ln -s c b && mkdir -p d && ln -s ../b d/a")
    with pytest.raises(PathOutsideWorkspace):
        box.read_file("d/a")
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("d/a", b"x")
    assert_untouched(outside)


def test_symlink_loop_is_refused_cleanly(box):
    box.execute("ln -s loop2 loop1 && ln -s loop1 loop2")
    with pytest.raises(PathOutsideWorkspace):
        box.read_file("loop1")


def test_symlink_inside_the_workspace_is_followed(box):
    box.execute("ln -s pkg/core.py alias")
    assert box.read_file("alias").startswith(b"def add")


def test_file_swapped_for_a_symlink_after_the_check_is_refused(box, outside, monkeypatch):
    # The race made deterministic: the swap happens right after the path was checked.
    original = base.workspace_path

    def check_then_swap(workspace: Path, rel: str) -> Path:
        resolved = original(workspace, rel)
        resolved.unlink(missing_ok=True)
        resolved.symlink_to(outside / "secret.txt")
        return resolved

    monkeypatch.setattr(base, "workspace_path", check_then_swap)
    with pytest.raises(PathOutsideWorkspace):
        box.read_file("pkg/core.py")
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("pkg/core.py", b"overwritten")
    assert_untouched(outside)


def test_directory_swapped_for_a_symlink_after_the_check_is_refused(box, outside, monkeypatch):
    original = base.workspace_path

    def check_then_swap(workspace: Path, rel: str) -> Path:
        resolved = original(workspace, rel)
        moved = workspace / "sub.moved"
        if not moved.exists():
            (workspace / "sub").rename(moved)
            (workspace / "sub").symlink_to(outside)
        return resolved

    box.execute("mkdir -p sub/deeper")
    monkeypatch.setattr(base, "workspace_path", check_then_swap)
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("sub/planted.txt", b"x")
    with pytest.raises(PathOutsideWorkspace):
        box.write_file("sub/deeper/new/planted.txt", b"x")
    assert_untouched(outside)


@pytest.mark.timeout(30)
def test_fifo_does_not_block_the_host(box):
    box.execute("mkfifo pipe")
    with pytest.raises(NotARegularFile):
        box.read_file("pipe")
    with pytest.raises(NotARegularFile):
        box.write_file("pipe", b"x")


def test_huge_sparse_file_is_not_read_into_memory(box):
    # One gigabyte of apparent size costs the agent nothing.
    assert box.execute("truncate -s 1G sparse.bin").ok
    with pytest.raises(FileTooLarge):
        box.read_file("sparse.bin")


# -- snapshots and restore -----------------------------------------------------


def test_restore_removes_new_files_and_reverts_edits(box):
    ref = box.snapshot("before")
    box.execute(
        "echo junk > junk.txt; mkdir -p new/deep && touch new/deep/f; echo 'build/' > .gitignore;"
        " mkdir build && touch build/out.o; echo '# x' >> pkg/core.py; rm tests/test_core.py;"
        " chmod 000 pkg/__init__.py; mkdir locked && touch locked/f && chmod 000 locked"
    )
    box.restore(ref)
    listing = box.execute("find . -path ./.git -prune -o -print | sort").output.split()
    assert listing == [".", "./pkg", "./pkg/__init__.py", "./pkg/core.py", "./tests",
                       "./tests/test_core.py"]  # fmt: skip
    assert box.read_file("pkg/core.py") == b"def add(a, b):\n    return a + b\n"


def test_restore_does_not_write_through_a_planted_symlink(box, outside):
    ref = box.snapshot()
    box.execute(f"rm -rf pkg && ln -s {outside} pkg")
    box.restore(ref)
    assert_untouched(outside)
    assert not (box.workspace / "pkg").is_symlink()
    assert box.read_file("pkg/core.py").startswith(b"def add")


def test_restore_stops_background_writers_first(box):
    ref = box.snapshot()
    box.execute("(while :; do echo x >> written.txt; sleep 0.02; done) >/dev/null 2>&1 &")
    box.restore(ref)
    box.execute("sleep 0.5")
    assert not (box.workspace / "written.txt").exists()


def test_host_git_never_runs_the_workspace_git_config(box, tmp_path):
    # A repository's own config can run programs (fsmonitor, hooks, diff and filter
    # drivers). The workspace's .git is the agent's; engram's host-side git must not read it.
    marker = tmp_path / "pwned"
    box.execute(
        f"git config core.fsmonitor 'touch {marker}; false'"
        f" && git config core.hooksPath /workspace/hooks && git config diff.x.command 'touch {marker}'"
        f" && git config filter.x.clean 'touch {marker}; cat'"
        " && echo '* diff=x filter=x' > .gitattributes && echo change >> pkg/core.py"
    )
    ref = box.snapshot()
    box.ws.diff()
    box.restore(ref)
    assert not marker.exists()


def test_snapshots_survive_the_agent_rewriting_history(box):
    ref = box.snapshot()
    box.execute(
        "git -c user.name=a -c user.email=a@a commit -qam gone --allow-empty; "
        "git reflog expire --expire=now --all; git gc -q --prune=now; rm -rf .git; echo x > pkg/core.py"
    )
    box.restore(ref)
    assert box.read_file("pkg/core.py").startswith(b"def add")


def test_only_the_workspace_is_mounted(box):
    box.container.reload()
    sources = [Path(m["Source"]).resolve() for m in box.container.attrs["Mounts"]]
    assert sources == [box.workspace]
    assert box.workspace not in box.ws.snapshots.git_dir.resolve().parents


def test_workspace_shares_no_inode_with_the_users_repository(box):
    # The agent can chmod and rewrite any file in the workspace; a hard link into the
    # user's object store would let it corrupt the user's repository.
    def inodes(root: Path) -> set[tuple[int, int]]:
        return {(p.stat().st_dev, p.stat().st_ino) for p in root.rglob("*") if p.is_file()}

    assert not inodes(box.workspace) & inodes(box.ws.repo / ".git")


def test_base_snapshot_of_a_clean_checkout_is_the_base_commit(box):
    base_tree = box.ws.snapshots.tree_of(box.ws.base_commit)
    assert box.ws.snapshots.tree_of(box.ws.base_snapshot) == base_tree


def test_direct_host_git_in_the_workspace_ignores_planted_fsmonitor_and_hooks(box, tmp_path):
    # Other host code (the repo index) lists a workspace's files with plain `git`; the
    # settings that run programs on such commands are overridden for every call.
    from sandboxes.gitcmd import git, toplevel

    marker = tmp_path / "pwned"
    box.execute(
        f"git config core.fsmonitor 'touch {marker}; false' && mkdir -p .git/hooks"
        f" && printf '#!/bin/sh\\ntouch {marker}\\n' > .git/hooks/pre-commit"
        " && chmod +x .git/hooks/pre-commit && echo new > untracked.txt"
    )
    assert toplevel(box.workspace) == box.workspace
    listed = git(["ls-files", "--cached", "--others", "--exclude-standard"], cwd=box.workspace)
    git(["status", "--porcelain"], cwd=box.workspace)
    git(["commit", "-qam", "host commit", "--allow-empty"], cwd=box.workspace)
    assert "untracked.txt" in listed and not marker.exists()
