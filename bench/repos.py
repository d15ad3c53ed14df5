"""Where a task's repository comes from, and the bench store that makes base commits resolve.

A task's `repo` is a *source spec*:

- `example:NAME` — a repository bundled under `examples/` (e.g. `example:ledger`);
- `pypi:NAME==VERSION` — a PyPI sdist, fetched with pip (its source is never committed);
- a local path — a git repository on this machine (its HEAD, or a given revision).

Each source is materialised once under `ENGRAM_HOME/bench/repos/<slug>/clean` with
commits made from fixed identities and dates, so they are the same on every machine:

```
R0  empty tree, "engram bench: <spec>"          refs/bench/root
├── C   the clean source                         refs/heads/main  (environment_setup_commit)
└── B   C's tree with the injected bug, per task refs/bench/tasks/<instance_id> (base_commit)
```

A bug commit's parent is R0, not C, so its history shows the whole repository being
added and nothing about the fix; R0 being shared keeps the repo id (derived from the
root commit) the same for every task of a source. The agent gets a *task repository*
(`task_repo`) holding only B and R0: the clean files are not among its objects.
On a new machine `recreate` rebuilds each B from C and the task's fix patch, and
checks it gets the very commit id the task file names.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agent import atomic
from agent.home import Home
from bench.tasks import BenchTask
from sandboxes.gitcmd import GitError, git

Report = Callable[[str], None]
BENCH_ENV = {
    "GIT_AUTHOR_NAME": "engram bench", "GIT_AUTHOR_EMAIL": "bench@engram.invalid",
    "GIT_COMMITTER_NAME": "engram bench", "GIT_COMMITTER_EMAIL": "bench@engram.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
}  # fmt: skip
TASK_REF = "refs/bench/tasks/"
ROOT_REF = "refs/bench/root"
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


class BenchRepoError(RuntimeError):
    """A bench repository cannot be made or does not match a task; says what to do next."""

    user_facing = True


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.Lock())


@dataclass(frozen=True)
class RepoSource:
    spec: str
    kind: Literal["example", "pypi", "path"]
    name: str
    version: str | None = None
    path: Path | None = None
    rev: str = "HEAD"

    @property
    def slug(self) -> str:
        if self.kind == "example":
            return f"example-{self.name}"
        if self.kind == "pypi":
            return f"pypi-{self.name}-{self.version}"
        from sandboxes.repo import repo_identity

        assert self.path is not None
        head = git(["rev-parse", "--verify", f"{self.rev}^{{commit}}"], cwd=self.path).strip()
        return f"path-{repo_identity(self.path).id}-{head[:10]}"


def parse_source(text: str) -> RepoSource:
    """A source spec (see the module docstring). `NAME==VER` alone means PyPI."""
    from bench.sdist import normalise, parse_requirement

    spec = text.strip()
    if spec.startswith("example:"):
        name = spec.split(":", 1)[1]
        return RepoSource(spec=spec, kind="example", name=name)
    if spec.startswith("pypi:") or ("==" in spec and not Path(spec).exists()):
        name, version = parse_requirement(spec.removeprefix("pypi:"))
        return RepoSource(
            spec=f"pypi:{normalise(name)}=={version}", kind="pypi", name=normalise(name),
            version=version,
        )  # fmt: skip
    rev = "HEAD"
    if "@" in spec and not Path(spec).exists():
        spec, rev = spec.rsplit("@", 1)
    path = Path(spec).expanduser().resolve()
    if not (path / ".git").exists():
        raise BenchRepoError(
            f"'{text}' is neither a git repository nor a source spec. Use a path to a git "
            "repository, example:NAME (a bundled example) or pypi:NAME==VERSION."
        )
    return RepoSource(spec=str(path), kind="path", name=path.name, path=path, rev=rev)


def _git(args: list[str], cwd: Path, env: dict[str, str] | None = None, **kw) -> str:
    return git(args, cwd=cwd, env={**BENCH_ENV, **(env or {})}, **kw)


def _example_fingerprint(folder: Path) -> str:
    from agent.examples import IGNORE

    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        ignored = IGNORE(root, [*dirs, *files])
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        for name in sorted(f for f in files if f not in ignored):
            path = Path(root) / name
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class BenchRepo:
    source: RepoSource
    path: Path  # the store: a non-bare repository whose main is the clean commit
    root_commit: str
    clean_commit: str
    version: str | None

    @property
    def tasks_dir(self) -> Path:
        return self.path.parent / "tasks"

    # -- reading the clean tree ------------------------------------------------

    def clean_files(self) -> list[str]:
        out = _git(["ls-tree", "-r", "--name-only", "-z", self.clean_commit], self.path)
        return sorted(p for p in out.split("\0") if p)

    def read_clean(self, rel: str) -> bytes:
        proc = _git_bytes(["show", f"{self.clean_commit}:{rel}"], self.path)
        return proc

    # -- bug commits -----------------------------------------------------------

    def _commit_tree(self, tree: str, instance_id: str) -> str:
        message = f"engram bench task {instance_id}\n".encode()
        return _git(["commit-tree", tree, "-p", self.root_commit], self.path, input=message).strip()

    def commit_bug(self, files: dict[str, bytes], instance_id: str) -> str:
        """Commit C's tree with `files` replaced, as the task's base commit (ref included)."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            _git(["read-tree", self.clean_commit], self.path, env)
            for rel, data in sorted(files.items()):
                mode = _git(["ls-tree", self.clean_commit, "--", rel], self.path).split(" ")[0]
                blob = _git(["hash-object", "-w", "--stdin"], self.path, input=data).strip()
                _git(["update-index", "--cacheinfo", f"{mode or '100644'},{blob},{rel}"],
                     self.path, env)  # fmt: skip
            tree = _git(["write-tree"], self.path, env).strip()
        commit = self._commit_tree(tree, instance_id)
        _git(["update-ref", TASK_REF + instance_id, commit], self.path)
        return commit

    def fix_patch(self, bug_commit: str) -> str:
        """The gold patch: from the bug commit back to the clean one."""
        return _git(["diff", "--no-color", "--no-ext-diff", "--no-renames", bug_commit,
                     self.clean_commit], self.path)  # fmt: skip

    def recreate(self, task: BenchTask) -> str:
        """Make the task's base commit from C and its fix patch; it must be the same id."""
        if task.environment_setup_commit and task.environment_setup_commit != self.clean_commit:
            raise BenchRepoError(
                f"{task.instance_id} was made from {self.source.spec} at commit "
                f"{task.environment_setup_commit[:12]}, but it materialises as "
                f"{self.clean_commit[:12]} here: the source changed. Regenerate the task set "
                "(`engram bench generate`)."
            )
        ref = TASK_REF + task.instance_id
        existing = _git(["rev-parse", "--verify", "-q", ref], self.path, check=False).strip()
        if existing == task.base_commit:
            return existing
        if not task.patch:
            raise BenchRepoError(f"{task.instance_id} has no patch to rebuild its base commit from")
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            _git(["read-tree", self.clean_commit], self.path, env)
            try:
                _git(["apply", "--cached", "-R", "--whitespace=nowarn", "-"], self.path, env,
                     input=task.patch.encode())  # fmt: skip
            except GitError as exc:
                raise BenchRepoError(
                    f"{task.instance_id}: its patch does not reverse onto {self.source.spec}: "
                    f"{exc.stderr.strip()[-300:]}"
                ) from exc
            tree = _git(["write-tree"], self.path, env).strip()
        commit = self._commit_tree(tree, task.instance_id)
        if commit != task.base_commit:
            raise BenchRepoError(
                f"{task.instance_id}: rebuilt base commit {commit[:12]} differs from the task's "
                f"{task.base_commit[:12]}. The task file and this engram disagree; regenerate it."
            )
        _git(["update-ref", ref, commit], self.path)
        return commit

    def task_repo(self, task: BenchTask) -> Path:
        """A repository holding only the task's base commit (and R0), checked out on main."""
        dest = self.tasks_dir / task.instance_id
        with _lock(dest):
            if (dest / ".git").is_dir():
                head = _git(["rev-parse", "-q", "--verify", "HEAD"], dest, check=False).strip()
                if head == task.base_commit:
                    return dest
            self.recreate(task)
            with atomic.building_dir(dest) as tmp:
                _git(["init", "-q", "-b", "main"], tmp)
                _git(["fetch", "-q", "--no-tags", str(self.path), TASK_REF + task.instance_id], tmp)
                _git(["reset", "-q", "--hard", "FETCH_HEAD"], tmp)
        return dest


def _git_bytes(args: list[str], cwd: Path) -> bytes:
    import subprocess

    from sandboxes.gitcmd import BASE_ENV

    proc = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **BASE_ENV},
                          capture_output=True)  # fmt: skip
    if proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout


class BenchRepos:
    """The bench store under `ENGRAM_HOME/bench/repos/`."""

    def __init__(self, home: Home | None = None):
        self.home = home or Home.resolve()
        self.root = self.home.bench / "repos"

    def open(self, source: RepoSource | str, report: Report = lambda m: None) -> BenchRepo:
        if isinstance(source, str):
            source = parse_source(source)
        folder = self.root / source.slug
        store = folder / "clean"
        fingerprint = self._fingerprint(source)
        with _lock(store):
            current = self._read(source, store)
            stamp = folder / "source.fingerprint"
            if current is None or (stamp.read_text() if stamp.exists() else "") != fingerprint:
                report(f"materialising {source.spec} under {store}")
                self._build(source, store, report)
                atomic.write_text(stamp, fingerprint)
                current = self._read(source, store)
        if current is None:
            raise BenchRepoError(f"could not materialise {source.spec} under {store}")
        return current

    def _fingerprint(self, source: RepoSource) -> str:
        if source.kind == "example":
            from agent.examples import examples_dir

            return _example_fingerprint(examples_dir() / source.name)
        return source.spec + "@" + source.rev

    def _read(self, source: RepoSource, store: Path) -> BenchRepo | None:
        if not (store / ".git").is_dir():
            return None
        root = _git(["rev-parse", "-q", "--verify", ROOT_REF], store, check=False).strip()
        clean = _git(["rev-parse", "-q", "--verify", "refs/heads/main"], store, check=False).strip()
        if not root or not clean:
            return None
        return BenchRepo(source, store, root, clean, self._version(source, store))

    @staticmethod
    def _version(source: RepoSource, store: Path) -> str | None:
        if source.version:
            return source.version
        pyproject = store / "pyproject.toml"
        if pyproject.is_file():
            try:
                return tomllib.loads(pyproject.read_text()).get("project", {}).get("version")
            except tomllib.TOMLDecodeError:
                return None
        return None

    def _build(self, source: RepoSource, store: Path, report: Report) -> None:
        with atomic.building_dir(store) as tmp:
            _git(["init", "-q", "-b", "main"], tmp)
            empty = _git(["mktree"], tmp, input=b"").strip()
            root = _git(["commit-tree", empty], tmp,
                        input=f"engram bench: {source.spec}\n".encode()).strip()  # fmt: skip
            if source.kind == "path":
                assert source.path is not None
                _git(["fetch", "-q", "--no-tags", str(source.path), source.rev], tmp)
                tree = _git(["rev-parse", "FETCH_HEAD^{tree}"], tmp).strip()
            else:
                self._fill(source, tmp, report)
                _git(["add", "-A"], tmp)
                tree = _git(["write-tree"], tmp).strip()
            clean = _git(["commit-tree", tree, "-p", root], tmp,
                         input=f"{source.spec}: clean source\n".encode()).strip()  # fmt: skip
            _git(["update-ref", ROOT_REF, root], tmp)
            _git(["update-ref", "refs/heads/main", clean], tmp)
            _git(["reset", "-q", "--hard", "main"], tmp)
        shutil.rmtree(store.parent / "tasks", ignore_errors=True)  # made from the old clean tree

    def _fill(self, source: RepoSource, dest: Path, report: Report) -> None:
        if source.kind == "example":
            from agent.examples import IGNORE, examples_dir

            folder = examples_dir() / source.name
            if not folder.is_dir():
                raise BenchRepoError(f"no bundled example '{source.name}' under {folder.parent}")
            shutil.copytree(folder, dest, ignore=IGNORE, dirs_exist_ok=True)
            return
        from bench.sdist import download_sdist, extract_sdist

        assert source.version is not None
        archive = download_sdist(source.name, source.version, self.home.bench / "sdists", report)
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            unpacked = extract_sdist(archive, Path(tmp) / "src")
            shutil.copytree(unpacked, dest, symlinks=True, dirs_exist_ok=True)


def task_checkout(
    task: BenchTask, home: Home | None = None, report: Report = lambda m: None
) -> Path:
    """The repository to start an agent run or a grade of `task` from (its task repository).

    What a runner passes to `Runner.start(task.to_task(), task_checkout(task), handles)`:
    a git repository whose HEAD is the task's base commit and which holds nothing of
    the fix.
    """
    return BenchRepos(home).open(task.repo, report).task_repo(task)
