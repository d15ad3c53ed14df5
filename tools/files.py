"""Workspace files as the tools see them: confined paths, skipped clutter, text decoding,
and suggestions for paths that do not exist.

Reads go through the Sandbox's confined file access (`read_file`) or, for listings,
walk the host-side workspace without following symlinks: a symlink is shown, never
entered, so a link pointing out of the workspace cannot leak a directory's contents.
"""

from __future__ import annotations

import difflib
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from sandboxes.base import PathOutsideWorkspace, Sandbox, workspace_path

# Directories no model needs to see: VCS data, caches, virtual environments.
SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".env", "node_modules",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".eggs",
        ".idea", ".vscode", ".cache", "htmlcov", ".hypothesis",
    }
)  # fmt: skip
MAX_TEXT_BYTES = 4_000_000


class NotText(ValueError):
    """The file is binary or not UTF-8."""


def skip_dir(entry: os.DirEntry[str] | Path, name: str) -> bool:
    if name in SKIP_DIRS or name.endswith(".egg-info"):
        return True
    # Any virtual environment, whatever it is called.
    return (Path(entry) / "pyvenv.cfg").is_file()


def clean_path_arg(sandbox: Sandbox, text: str) -> str:
    """What a model meant by a path argument: quotes, backticks and `./` removed, and
    diff's `a/`/`b/` prefix dropped when only the path without it exists."""
    text = text.strip().strip("`'\"").strip()
    while text.startswith("./"):
        text = text[2:]
    if text.startswith(("a/", "b/")) and not exists(sandbox, text) and exists(sandbox, text[2:]):
        text = text[2:]
    return text.rstrip("/") or "."


def resolve(sandbox: Sandbox, rel: str) -> Path:
    """Host path for a workspace-relative argument (raises PathOutsideWorkspace)."""
    return workspace_path(sandbox.workspace, rel)


def relative(sandbox: Sandbox, path: Path) -> str:
    rel = path.relative_to(sandbox.workspace.resolve()).as_posix()
    return rel or "."


def exists(sandbox: Sandbox, rel: str) -> bool:
    try:
        return resolve(sandbox, rel).exists()
    except PathOutsideWorkspace:
        return False


def decode_text(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise NotText("binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotText(f"not UTF-8 text (byte {exc.start})") from exc


def read_text(sandbox: Sandbox, rel: str) -> str:
    """A text file's content with its line endings as they are (raises NotText)."""
    target = resolve(sandbox, rel)
    size = target.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise NotText(f"{size:,} bytes is too large to load")
    return decode_text(sandbox.read_file(rel))


@dataclass(frozen=True)
class Entry:
    rel: str
    is_dir: bool
    is_link: bool
    size: int


def list_dir(sandbox: Sandbox, rel: str) -> list[Entry]:
    """Entries of one directory (clutter skipped), directories first, then by name."""
    base = resolve(sandbox, rel)
    root = sandbox.workspace.resolve()
    entries: list[Entry] = []
    with os.scandir(base) as it:
        for item in it:
            try:
                is_link = item.is_symlink()
                is_dir = item.is_dir(follow_symlinks=False)
                if is_dir and skip_dir(item, item.name):
                    continue
                size = item.stat(follow_symlinks=False).st_size
            except OSError:
                continue
            entries.append(
                Entry(Path(item.path).relative_to(root).as_posix(), is_dir, is_link, size)
            )
    return sorted(entries, key=lambda e: (not e.is_dir, e.rel.lower()))


def walk_files(sandbox: Sandbox, rel: str = ".", limit: int = 50_000) -> list[str]:
    """Workspace-relative paths of regular files under `rel` (clutter skipped)."""
    root = sandbox.workspace.resolve()
    start = resolve(sandbox, rel)
    out: list[str] = []
    stack = [start]
    while stack and len(out) < limit:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for item in items:
            try:
                if item.is_dir(follow_symlinks=False):
                    if not skip_dir(item, item.name):
                        subdirs.append(Path(item.path))
                elif stat.S_ISREG(item.stat(follow_symlinks=False).st_mode):
                    out.append(Path(item.path).relative_to(root).as_posix())
            except OSError:
                continue
        stack.extend(reversed(subdirs))
    return out[:limit]


def suggest_paths(sandbox: Sandbox, wanted: str, count: int = 3) -> list[str]:
    """Existing paths a model may have meant by `wanted`: the same file name elsewhere
    first, then the closest paths by spelling."""
    wanted = wanted.strip("/")
    files = walk_files(sandbox, limit=20_000)
    dirs = sorted({posixpath.dirname(f) for f in files} - {""})
    candidates = files + dirs
    name = posixpath.basename(wanted)
    same_name = [f for f in candidates if posixpath.basename(f) == name and f != wanted]
    stem = posixpath.splitext(name)[0]
    same_stem = [
        f for f in files if posixpath.splitext(posixpath.basename(f))[0] == stem and f != wanted
    ]
    close = difflib.get_close_matches(wanted, candidates, n=count, cutoff=0.6)
    by_name = {posixpath.basename(f): f for f in candidates}
    close += [
        by_name[n] for n in difflib.get_close_matches(name, list(by_name), n=count, cutoff=0.75)
    ]
    ordered: list[str] = []
    for path in [*same_name, *same_stem, *close]:
        if path not in ordered:
            ordered.append(path)
    return ordered[:count]


def not_found_text(sandbox: Sandbox, rel: str) -> str:
    """`rel` does not exist: say so, offer the likeliest paths, and what to do next."""
    suggestions = suggest_paths(sandbox, rel)
    text = f"{rel} does not exist."
    if suggestions:
        text += " Did you mean: " + ", ".join(suggestions) + "?"
    else:
        text += " Use `view` with path: . to list the repository."
    return text


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
