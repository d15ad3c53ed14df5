"""A run's workspace: a private clone of the user's repository on the run's own branch.

Why a clone and not `git worktree add`: a worktree's `.git` is a pointer into the
user's `.git`, which inside the container either does not exist (git breaks) or, if
mounted, exposes the user's git config and any credentials in it. A clone made with
`--no-hardlinks` shares nothing writable with the user's repository.

The user's checkout is only ever read. The result of a run reaches the user's
repository as a branch `engram/<run-id>` made host-side from the trusted snapshot diff
(`publish_branch`), without touching their working files; `engram apply` is the only
thing that writes into their checkout.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sandboxes.gitcmd import GitError, git, is_dirty, rev_parse, toplevel
from sandboxes.snapshots import SnapshotError, SnapshotStore


class WorkspaceError(RuntimeError):
    """The repository cannot be used as given; the message says what to do."""

    user_facing = True


def branch_name(run_id: str) -> str:
    return f"engram/{run_id}"


@dataclass
class Workspace:
    repo: Path  # the user's repository (read only)
    path: Path  # the private clone, bind-mounted into the sandbox
    base_commit: str
    branch: str
    snapshots: SnapshotStore
    base_snapshot: str
    dirty_source: bool = False

    @classmethod
    def create(
        cls, repo: Path, path: Path, snapshot_dir: Path, run_id: str, base: str | None = None
    ) -> Workspace:
        repo = repo.expanduser()
        if not repo.exists():
            raise WorkspaceError(f"{repo} does not exist. Pass the path of a git repository.")
        top = toplevel(repo)
        if top is None:
            raise WorkspaceError(
                f"{repo} is not a git repository. engram works on committed code: run "
                "`git init && git add -A && git commit -m init` there first."
            )
        try:
            base_commit = rev_parse(top, base or "HEAD")
        except GitError as exc:
            what = f"commit '{base}'" if base else "a first commit (HEAD)"
            raise WorkspaceError(f"{top} has no {what}: {exc.stderr.strip()}") from exc
        if path.exists():
            raise WorkspaceError(f"workspace {path} already exists (run id reused?)")
        path.parent.mkdir(parents=True, exist_ok=True)
        branch = branch_name(run_id)
        try:
            git(["clone", "--quiet", "--no-hardlinks", "--no-checkout", str(top), str(path)])
            git(["checkout", "--quiet", "-b", branch, base_commit], cwd=path)
            git(["remote", "remove", "origin"], cwd=path)
        except GitError as exc:
            shutil.rmtree(path, ignore_errors=True)
            raise WorkspaceError(f"could not create the workspace: {exc}") from exc
        if (snapshot_dir / "HEAD").exists():
            # An existing store (resume, fork) keeps its history; its first snapshot is the base.
            store = SnapshotStore(snapshot_dir, path)
            refs = store.refs()
            base_snapshot = refs[0][1] if refs else store.snapshot("base")
        else:
            try:
                store = SnapshotStore.seeded(snapshot_dir, path, top, base_commit)
            except SnapshotError as exc:
                shutil.rmtree(path, ignore_errors=True)
                raise WorkspaceError(str(exc)) from exc
            base_snapshot = store.snapshot("base")
        return cls(
            repo=top, path=path, base_commit=base_commit, branch=branch, snapshots=store,
            base_snapshot=base_snapshot, dirty_source=is_dirty(top),
        )  # fmt: skip

    def diff(self) -> str:
        """The run's change against the base, from the host-side snapshot store."""
        return self.snapshots.diff(self.base_snapshot)

    def publish_branch(self, message: str) -> str | None:
        """Create/overwrite branch `self.branch` in the user's repo: base + the run's diff.

        Uses a temporary index, so the user's index, HEAD and files are untouched.
        Returns the new commit id, or None when the run changed nothing.
        """
        patch = self.diff()
        if not patch.strip():
            return None
        fd, index = tempfile.mkstemp(prefix="engram-index-")
        os.close(fd)
        os.unlink(index)  # git wants to create it itself
        env = {"GIT_INDEX_FILE": index}
        try:
            git(["read-tree", self.base_commit], cwd=self.repo, env=env)
            git(["apply", "--cached", "--binary", "--whitespace=nowarn", "-"],
                cwd=self.repo, env=env, input=patch.encode())  # fmt: skip
            tree = git(["write-tree"], cwd=self.repo, env=env).strip()
            commit = git(["commit-tree", tree, "-p", self.base_commit],
                         cwd=self.repo, input=message.encode()).strip()  # fmt: skip
            git(["update-ref", f"refs/heads/{self.branch}", commit], cwd=self.repo)
            return commit
        finally:
            Path(index).unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
