"""The Sandbox protocol: where every command of the agent runs.

Contract (checked by `tests/sandboxes/test_contract.py` against every implementation):

- `execute(cmd, timeout)` runs `cmd` with `bash -c` in the workspace, never raises
  for a failing or hanging command: a timeout kills the command's whole process group
  and returns `timed_out=True`; output is decoded with replacement (binary survives as
  U+FFFD) and capped, keeping head and tail with the cut stated.
- `read_file/write_file` take workspace-relative paths; anything that resolves
  outside the workspace (`..`, absolute paths, symlinks pointing out) raises
  `PathOutsideWorkspace`.
- `snapshot()` returns a ref (a git commit id) of the whole worktree, untracked files
  included; `restore(ref)` makes the worktree exactly that again (new files removed).
- `close()` is idempotent; sandboxes are context managers.

Not guaranteed: processes started in the background by a command may survive until
`close()`; `LocalSandbox` gives no isolation at all.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the command it ran)."""

    user_facing = True


class PathOutsideWorkspace(SandboxError):
    """A tool argument pointed outside the workspace."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str
    timed_out: bool = False
    truncated: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@runtime_checkable
class Sandbox(Protocol):
    workspace: Path
    """Host path of the workspace (a git worktree)."""
    workdir: str
    """The workspace's path as commands see it."""
    isolated: bool

    def execute(self, cmd: str, timeout: float | None = None) -> ExecResult: ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes) -> None: ...

    def snapshot(self, label: str = "") -> str: ...

    def restore(self, ref: str) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...


class OutputCapture:
    """Keep the first and last bytes of a stream without ever holding all of it.

    Bad UTF-8 becomes U+FFFD on decoding; the cut, if any, is stated in the text.
    """

    def __init__(self, cap: int):
        self.head_cap = cap * 2 // 3
        self.tail_cap = cap - self.head_cap
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_cap - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_cap:
                del self.tail[: len(self.tail) - self.tail_cap]

    def result(self) -> tuple[str, bool]:
        cut = self.total - len(self.head) - len(self.tail)
        if cut == 0:
            return bytes(self.head + self.tail).decode("utf-8", errors="replace"), False
        note = f"\n[… {cut} bytes cut from the middle of {self.total} bytes of output …]\n"
        head = self.head.decode("utf-8", errors="replace")
        return head + note + self.tail.decode("utf-8", errors="replace"), True


def workspace_path(workspace: Path, rel: str) -> Path:
    """Resolve a tool argument to a path inside `workspace`, following symlinks.

    Absolute paths are accepted only if they lie in the workspace (as the host or the
    sandbox names it: `/workspace/x` means `x`).
    """
    if "\x00" in rel:
        raise PathOutsideWorkspace("path contains a NUL byte")
    root = workspace.resolve()
    text = rel.strip()
    for prefix in ("/workspace/", str(root) + "/"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text in ("/workspace", str(root)):
        text = "."
    if os.path.isabs(text):
        raise PathOutsideWorkspace(f"{rel}: absolute paths outside the workspace are not allowed")
    resolved = (root / text).resolve()
    if resolved != root and root not in resolved.parents:
        raise PathOutsideWorkspace(f"{rel}: resolves outside the workspace")
    return resolved


def _open_beneath(root: Path, target: Path, flags: int, mode: int = 0o644) -> int:
    """Open `target` (already resolved inside `root`) without following any symlink.

    Walking the resolved components with O_NOFOLLOW makes a symlink swapped in after
    the check fail instead of escaping the workspace.
    """
    rel_parts = target.relative_to(root).parts
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in rel_parts[:-1]:
            next_fd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        if not rel_parts:
            raise IsADirectoryError(str(target))
        return os.open(rel_parts[-1], flags | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def read_in_workspace(workspace: Path, rel: str) -> bytes:
    target = workspace_path(workspace, rel)
    fd = _open_beneath(workspace.resolve(), target, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise IsADirectoryError(rel)
        return handle.read()


def write_in_workspace(workspace: Path, rel: str, data: bytes) -> None:
    target = workspace_path(workspace, rel)
    root = workspace.resolve()
    # Create missing parent directories one by one, refusing symlinks on the way.
    current = root
    for part in target.relative_to(root).parts[:-1]:
        current = current / part
        if current.is_symlink():
            raise PathOutsideWorkspace(f"{rel}: a parent directory is a symlink")
        current.mkdir(exist_ok=True)
    fd = _open_beneath(root, target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
