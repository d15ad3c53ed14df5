"""Workspace snapshots kept where the sandbox cannot reach them.

Each run has a private bare git directory on the host (`<run dir>/snapshots.git`)
whose work tree is the workspace. A snapshot stages the whole tree (untracked files
included, ignored files not) into that directory's own index and records a commit
under `refs/engram/snapshots/<n>`. Restore checks the tree out again and removes
everything else (`read-tree --reset -u` + `clean -fdx`). Because the objects, index
and refs live outside the bind mount, nothing the agent runs can delete or forge a
snapshot; the workspace's own `.git` is just another directory to it.

The index keeps git's stat cache, so after the first snapshot only changed files are
re-hashed: cheap even on repositories of many thousands of files. The first snapshot
is cheap too when the store is `seeded` from the user's repository: its objects are
hard-linked in (git's local clone), so the base tree's blobs already exist and
snapshotting an unmodified checkout writes no object at all. Sharing inodes with the
user's repository is safe here, and only here: the store is host-side and git never
writes into an existing object file, whereas the agent could rewrite any inode it
shares with the workspace (which is why the workspace is cloned `--no-hardlinks`).
"""

from __future__ import annotations

from pathlib import Path

from sandboxes.gitcmd import GitError, git

REF_PREFIX = "refs/engram/snapshots/"
CACHE_EXCLUDES = (
    "__pycache__/\n*.py[co]\n.pytest_cache/\n.benchmarks/\n.mypy_cache/\n.ruff_cache/\n"
)


class SnapshotError(RuntimeError):
    """A snapshot could not be taken or restored."""

    user_facing = True


class SnapshotStore:
    def __init__(self, git_dir: Path, work_tree: Path):
        self.git_dir = git_dir
        self.work_tree = work_tree
        if not (git_dir / "HEAD").exists():
            git_dir.parent.mkdir(parents=True, exist_ok=True)
            git(["init", "--bare", "--quiet", str(git_dir)])
            # Caches that tests and tools leave behind are never part of a run's change,
            # whatever the repository's own .gitignore says (restore removes them too).
            (git_dir / "info").mkdir(exist_ok=True)
            (git_dir / "info" / "exclude").write_text(CACHE_EXCLUDES)
        self._env = {"GIT_DIR": str(git_dir), "GIT_WORK_TREE": str(work_tree)}

    @classmethod
    def seeded(cls, git_dir: Path, work_tree: Path, source: Path, commit: str) -> SnapshotStore:
        """A store holding `source`'s objects, its index primed with `commit`'s tree.

        `work_tree` is expected to be a checkout of `commit`; its first snapshot then only
        hashes files (no object is written) instead of compressing every file anew.
        """
        if (git_dir / "HEAD").exists():
            raise SnapshotError(f"{git_dir} already exists")
        git_dir.parent.mkdir(parents=True, exist_ok=True)
        try:
            git(["clone", "--bare", "--quiet", str(source), str(git_dir)])
            git(["remote", "remove", "origin"], cwd=git_dir)
            store = cls(git_dir, work_tree)
            store._git(["read-tree", commit])
        except GitError as exc:
            raise SnapshotError(f"could not create the snapshot store: {exc}") from exc
        return store

    def _git(self, args: list[str], input: bytes | None = None) -> str:
        return git(args, cwd=self.work_tree, env=self._env, input=input)

    def _tree(self) -> str:
        # core.fileMode etc. at defaults; -A picks up deletions and new files alike.
        self._git(["add", "-A", "--ignore-errors", "--", "."])
        return self._git(["write-tree"]).strip()

    def snapshot(self, label: str = "") -> str:
        try:
            tree = self._tree()
            refs = self.refs()
            parents = ["-p", refs[-1][1]] if refs else []
            message = (label or f"snapshot {len(refs)}").encode()
            commit = self._git(["commit-tree", tree, *parents], input=message).strip()
            self._git(["update-ref", f"{REF_PREFIX}{len(refs):06d}", commit])
            return commit
        except GitError as exc:
            raise SnapshotError(f"snapshot failed: {exc}") from exc

    def refs(self) -> list[tuple[str, str]]:
        out = self._git(["for-each-ref", "--format=%(refname) %(objectname)", REF_PREFIX])
        pairs = [tuple(line.split()) for line in out.splitlines() if line.strip()]
        return sorted(pairs)  # type: ignore[return-value]

    def restore(self, ref: str) -> None:
        try:
            self._git(["cat-file", "-e", f"{ref}^{{commit}}"])
        except GitError as exc:
            raise SnapshotError(f"unknown snapshot {ref}") from exc
        try:
            self._git(["add", "-A", "--ignore-errors", "--", "."])
            self._git(["read-tree", "--reset", "-u", ref])
            self._git(["clean", "-fdxq"])
        except GitError as exc:
            raise SnapshotError(f"restore of {ref} failed: {exc}") from exc

    def diff(self, old: str, new: str | None = None) -> str:
        """Unified diff between two snapshots (`new=None`: the current tree), binary-safe."""
        target = new or self._tree()
        return self._git(["diff", "--binary", "--no-color", "--no-ext-diff", old, target])

    def tree_of(self, ref: str) -> str:
        return self._git(["rev-parse", f"{ref}^{{tree}}"]).strip()
