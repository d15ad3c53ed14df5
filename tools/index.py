"""The symbol index of a repository: every file, and for Python files what they define,
import and reference — cached per repository and updated incrementally.

Cache: `ENGRAM_HOME/repos/<repo-id>/index.json` (see `index_cache_path`). An entry is
keyed by the file's content hash (sha256); a file whose size and mtime are unchanged
since it was hashed is trusted without being read again, except when its mtime is so
recent that a same-tick rewrite could hide (git's "racily clean" rule). Only changed
files are re-parsed. The index works on a host path (the run's workspace): it reads
text, it never executes it.

Not guaranteed: a file rewritten with identical size and an mtime restored to an old
value is not noticed (the same blind spot git has).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.atomic import write_text
from sandboxes.gitcmd import GitError, git, toplevel
from tools.catalog import PYTHON_SUFFIXES, Catalog, Symbol
from tools.python_symbols import parse_python
from tools.symbols import PARSER_VERSION, Definition, FileSymbols, ImportRef

INDEX_FORMAT = 1
MAX_PARSE_BYTES = 2_000_000  # larger "source" files are generated data, not code to map
# mtimes closer than this to the moment a file was hashed are not trusted (coarse
# file-system clocks, and writes landing in the same tick as the hash).
RACY_NS = 2_000_000_000
# Where sandboxes mount the workspace (sandboxes.container.WORKDIR; SWE-bench uses
# /testbed): paths the agent sees in there are paths in the repository.
WORKSPACE_MOUNTS = ("/workspace", "/testbed")
_SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
     ".mypy_cache", ".pytest_cache", ".ruff_cache", "build", "dist", ".eggs", "site-packages"}
)  # fmt: skip


class SymbolIndexError(RuntimeError):
    user_facing = True


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexedFile(_Model):
    sha: str
    size: int
    mtime_ns: int
    hashed_ns: int = Field(description="when the content hash was taken (racy-stat rule)")
    symbols: FileSymbols


class IndexCache(_Model):
    # No defaults: written explicitly, so a file lacking them is rejected, not assumed.
    format_version: int
    parser_version: int
    files: dict[str, IndexedFile] = Field(default_factory=dict)


class IndexStats(_Model):
    files: int = 0
    python_files: int = 0
    parsed: int = 0
    rehashed: int = Field(default=0, description="read and hashed, content unchanged")
    reused: int = Field(default=0, description="trusted by size + mtime")
    removed: int = 0
    cache_loaded: bool = False
    seconds: float = 0.0


def index_cache_path(repo_id: str, home_root: Path | None = None) -> Path:
    from agent.home import Home

    home = Home(home_root) if home_root is not None else Home.resolve()
    return home.repo_dir(repo_id) / "index.json"


def content_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_files(root: Path) -> list[str]:
    """Repository-relative paths (posix) of the files worth indexing: git's view (tracked
    plus untracked-not-ignored) inside a work tree, otherwise a walk that skips caches,
    virtual environments and hidden directories."""
    top = toplevel(root)
    if top is not None:
        try:
            out = git(
                ["ls-files", "-z", "--cached", "--others", "--exclude-standard", "--full-name"],
                cwd=root,
            )
            prefix = root.resolve().relative_to(top.resolve()).as_posix()
            rels = []
            for entry in filter(None, out.split("\0")):
                if prefix != ".":
                    if not entry.startswith(prefix + "/"):
                        continue
                    entry = entry[len(prefix) + 1 :]
                rels.append(entry)
            # --cached lists deleted-but-tracked files too; a file must exist to be indexed.
            return sorted({r for r in rels if _listed(root / r)})
        except GitError:
            pass
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in _SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
        )
        base = Path(dirpath).relative_to(root)
        for name in filenames:
            if not name.endswith((".pyc", ".pyo")):
                found.append((base / name).as_posix())
    return sorted(found)


def inside(root: Path, path: Path) -> bool:
    """Whether `path` is a regular file under `root` reached without any symbolic link.

    The workspace is the agent's to shape: a link planted there could point at any
    host file (a key, another repository's secrets), and whatever the index reads can
    end up in the map the model sees. So links are listed by name but never followed.
    """
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False
    current = root
    for part in rel.parts:
        current = current / part
        if current.is_symlink():
            return False
    return True


def _listed(path: Path) -> bool:
    """A path to list: a regular file, or a link (listed by name, never read)."""
    return path.is_symlink() or path.is_file()


class SymbolIndex:
    """Files and symbols of one repository at one moment. Build with `SymbolIndex.build`
    (or `for_repo`); it is a snapshot — call `refresh()` after the files change."""

    def __init__(self, root: Path, paths: list[str], entries: dict[str, IndexedFile],
                 stats: IndexStats, cache_path: Path | None = None):  # fmt: skip
        self.root = root
        self.paths = paths
        self.entries = entries
        self.stats = stats
        self.cache_path = cache_path
        self._catalog: Catalog | None = None

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, root: Path, cache_path: Path | None = None) -> SymbolIndex:
        """Index `root`; with `cache_path`, reuse and then rewrite that cache."""
        root = Path(root).resolve()
        if not root.is_dir():
            raise SymbolIndexError(f"{root} is not a directory: pass the repository's path")
        started = time.perf_counter()
        stats = IndexStats()
        cache = _load_cache(cache_path) if cache_path is not None else None
        stats.cache_loaded = cache is not None
        old = cache.files if cache is not None else {}
        paths = list_files(root)
        entries: dict[str, IndexedFile] = {}
        now = time.time_ns()
        for rel in paths:
            if not rel.endswith(PYTHON_SUFFIXES):
                continue
            entry = _index_file(root, rel, old.get(rel), now, stats)
            if entry is not None:
                entries[rel] = entry
        stats.files = len(paths)
        stats.python_files = len(entries)
        stats.removed = len(set(old) - set(entries))
        changed = stats.parsed or stats.removed or stats.rehashed or cache is None
        if cache_path is not None and changed:
            cache_out = IndexCache(
                format_version=INDEX_FORMAT, parser_version=PARSER_VERSION, files=entries
            )
            # Defaults left out: a third smaller, and loading is mostly parsing JSON.
            write_text(cache_path, cache_out.model_dump_json(exclude_defaults=True))
        stats.seconds = time.perf_counter() - started
        return cls(root, paths, entries, stats, cache_path)

    @classmethod
    def for_repo(
        cls, root: Path, repo_id: str | None = None, home_root: Path | None = None
    ) -> SymbolIndex:
        """Index a repository with its cache under ENGRAM_HOME. `repo_id` defaults to the
        id of `root` (sandboxes.repo); pass the user's repo id when `root` is a run's
        workspace clone, so runs share one cache."""
        if repo_id is None:
            from sandboxes.repo import repo_identity

            repo_id = repo_identity(Path(root)).id
        return cls.build(root, index_cache_path(repo_id, home_root))

    def refresh(self) -> SymbolIndex:
        """A new index of the same root (only changed files are re-parsed)."""
        return SymbolIndex.build(self.root, self.cache_path)

    # ------------------------------------------------------------------ queries

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            parses = {rel: entry.symbols for rel, entry in self.entries.items()}
            self._catalog = Catalog.of(self.root, self.paths, parses)
        return self._catalog

    def symbols(self, path: str) -> FileSymbols | None:
        entry = self.entries.get(path)
        return entry.symbols if entry is not None else None

    def module_of(self, path: str) -> str | None:
        return self.catalog.file_module.get(path)

    def files_of_module(self, module: str) -> list[str]:
        return self.catalog.module_files.get(module, [])

    def definitions(self, path: str) -> list[Definition]:
        symbols = self.symbols(path)
        return symbols.definitions if symbols is not None else []

    def defined_as(self, short: str) -> list[Symbol]:
        """Every definition whose last name segment is `short` (`parse` → `Money.parse`)."""
        return self.catalog.by_short.get(short, [])

    def has_path(self, rel: str) -> bool:
        return rel in self.catalog.paths or rel.rstrip("/") in self.catalog.dirs

    def find_paths(self, text: str) -> list[str]:
        """Files (or directories) a path as written may mean: exact, `./x`, absolute under
        the root, or a suffix on a `/` boundary (`money.py` → `src/ledger/money.py`)."""
        cleaned = self.relative(text)
        if cleaned is None:
            return []
        look = self.catalog
        if cleaned in look.paths or cleaned in look.dirs:
            return [cleaned]
        tail = cleaned
        base = tail.rsplit("/", 1)[-1]
        hits = [p for p in look.by_basename.get(base, []) if p == tail or p.endswith("/" + tail)]
        if not hits:
            hits = [
                d
                for d in look.dirs_by_basename.get(base, [])
                if d == tail or d.endswith("/" + tail)
            ]
        return hits

    def relative(self, text: str) -> str | None:
        """`text` as a root-relative path; None for an absolute path outside the root (and
        outside the sandbox's mount of it)."""
        cleaned = text.strip().strip("'\"`").rstrip("/")
        if cleaned.startswith("/"):
            for root in (self.root.as_posix(), *WORKSPACE_MOUNTS):
                if cleaned == root:
                    return "."
                if cleaned.startswith(root + "/"):
                    return cleaned[len(root) + 1 :]
            return None
        while cleaned.startswith("./"):
            cleaned = cleaned[2:]
        return cleaned

    @property
    def top_packages(self) -> frozenset[str]:
        return self.catalog.top_names

    @property
    def external_modules(self) -> frozenset[str]:
        """Top-level modules the repository imports that it does not contain (its
        dependencies, plus anything it declares in pyproject/requirements)."""
        return self.catalog.external_tops

    def absolute_import(self, path: str, ref: ImportRef) -> str:
        """The absolute module an import in `path` names (relative imports resolved)."""
        if ref.level == 0:
            return ref.module
        module = self.module_of(path) or ""
        package = module.split(".")
        if not path.endswith(("__init__.py", "__init__.pyi")):
            package = package[:-1]
        if ref.level > 1:
            package = (
                package[: len(package) - (ref.level - 1)] if ref.level - 1 <= len(package) else []
            )
        return ".".join([*package, *([ref.module] if ref.module else [])])


def _index_file(
    root: Path, rel: str, old: IndexedFile | None, now: int, stats: IndexStats
) -> IndexedFile | None:
    full = root / rel
    if not inside(root, full):
        return None
    try:
        st = full.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_PARSE_BYTES:
        return None
    if (
        old is not None
        and old.size == st.st_size
        and old.mtime_ns == st.st_mtime_ns
        and st.st_mtime_ns < old.hashed_ns - RACY_NS
    ):
        stats.reused += 1
        return old
    try:
        data = full.read_bytes()
    except OSError:
        return None
    sha = content_sha(data)
    if old is not None and old.sha == sha:
        stats.rehashed += 1
        return old.model_copy(
            update={"size": st.st_size, "mtime_ns": st.st_mtime_ns, "hashed_ns": now}
        )
    stats.parsed += 1
    return IndexedFile(
        sha=sha, size=st.st_size, mtime_ns=st.st_mtime_ns, hashed_ns=now, symbols=parse_python(data)
    )


def _load_cache(path: Path) -> IndexCache | None:
    """The cache at `path`, or None when missing, unreadable, or made by another version
    (a stale or corrupt cache is rebuilt, never trusted)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    try:
        cache = IndexCache.model_validate_json(raw)
    except ValidationError:
        return None
    if cache.format_version != INDEX_FORMAT or cache.parser_version != PARSER_VERSION:
        return None
    return cache
