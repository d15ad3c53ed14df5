"""The Sandbox protocol: where every command of the agent runs.

Contract (checked by `tests/sandboxes/test_contract.py` against every implementation):

- `execute(cmd, timeout)` runs `cmd` with `bash -c` in the workspace, never raises
  for a failing or hanging command: a timeout kills the command's whole process group
  and returns `timed_out=True`; output is decoded with replacement (binary survives as
  U+FFFD) and capped, keeping head and tail with the cut stated.
- `read_file/write_file` take workspace-relative paths; anything that resolves
  outside the workspace (`..`, absolute paths, symlinks pointing out, a symlink loop, a
  symlink swapped in between check and open) raises `PathOutsideWorkspace`. They run on
  the host, so they only touch regular files (`NotARegularFile` for a FIFO or socket the
  agent planted) and read at most `MAX_FILE_BYTES` (`FileTooLarge`).
- `snapshot()` returns a ref (a git commit id) of the whole worktree, untracked files
  included; `restore(ref)` makes the worktree exactly that again (new files removed).
- `close()` is idempotent; sandboxes are context managers.

Not guaranteed: processes started in the background by a command may survive until
`close()` (DockerSandbox kills them at a timeout, before a restore, and when they fill
the pids limit); `LocalSandbox` gives no isolation at all.
"""

from __future__ import annotations

import contextlib
import errno
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


class NotARegularFile(SandboxError):
    """A tool argument named a FIFO, socket or device: reading it could block the host."""


class FileTooLarge(SandboxError):
    """A file is larger than the sandbox lets the host read into memory."""


# What `read_file` will load into the host's memory. Source files are far smaller; the
# cap exists because the agent can make a sparse file of any apparent size for free.
MAX_FILE_BYTES = 64 * 1024 * 1024


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
    sandbox names it: `/workspace/x` means `x`). This is the check; the open that follows
    (`_open_beneath`) re-verifies every component, because the agent can swap a symlink in
    between the two.
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
    try:
        resolved = (root / text).resolve()
    except (RuntimeError, OSError) as exc:
        # Python 3.11 raises RuntimeError for a symlink loop; a path that cannot be
        # resolved cannot be shown to stay inside.
        raise PathOutsideWorkspace(f"{rel}: cannot be resolved ({exc})") from exc
    if resolved != root and root not in resolved.parents:
        raise PathOutsideWorkspace(f"{rel}: resolves outside the workspace")
    return resolved


def _swapped_symlink(dir_fd: int, name: str, rel: str, exc: OSError) -> OSError:
    """The error to raise when opening `name` under `dir_fd` without following failed."""
    if exc.errno == errno.ELOOP:
        return PathOutsideWorkspace(f"{rel}: a symlink appeared on the path while it was opened")
    if exc.errno == errno.ENOTDIR:
        # O_DIRECTORY|O_NOFOLLOW reports a symlink as ENOTDIR: tell the two cases apart.
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                return PathOutsideWorkspace(f"{rel}: a parent directory is a symlink")
    return exc


def _open_beneath(
    root: Path, target: Path, rel: str, flags: int, mode: int = 0o644, make_parents: bool = False
) -> int:
    """Open `target` (already resolved inside `root`) without following any symlink.

    Walking the resolved components one directory fd at a time, each opened with
    O_NOFOLLOW, makes a symlink swapped in after `workspace_path`'s check fail instead of
    escaping the workspace. Missing parents are made with mkdirat on the same fds (never
    through a path the agent could redirect). O_NONBLOCK keeps a FIFO planted in the
    workspace from blocking the host; callers refuse anything that is not a regular file.
    """
    rel_parts = target.relative_to(root).parts
    if not rel_parts:
        raise IsADirectoryError(rel)
    dir_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in rel_parts[:-1]:
            if make_parents:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=dir_fd)
            try:
                next_fd = os.open(
                    part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
                )
            except OSError as exc:
                raise _swapped_symlink(dir_fd, part, rel, exc) from exc
            os.close(dir_fd)
            dir_fd = next_fd
        name = rel_parts[-1]
        try:
            return os.open(name, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode,
                           dir_fd=dir_fd)  # fmt: skip
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a FIFO without reader, or a socket
                raise NotARegularFile(f"{rel}: not a regular file") from exc
            raise _swapped_symlink(dir_fd, name, rel, exc) from exc
    finally:
        os.close(dir_fd)


def _require_regular(fd: int, rel: str) -> os.stat_result:
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        os.close(fd)
        raise IsADirectoryError(rel)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise NotARegularFile(f"{rel}: not a regular file (a FIFO, socket or device)")
    return info


def read_in_workspace(workspace: Path, rel: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file inside the workspace, at most `limit` of them.

    Raises PathOutsideWorkspace, NotARegularFile, FileTooLarge, or the OSError of the
    open (FileNotFoundError, IsADirectoryError, …).
    """
    target = workspace_path(workspace, rel)
    fd = _open_beneath(workspace.resolve(), target, rel, os.O_RDONLY)
    info = _require_regular(fd, rel)
    with os.fdopen(fd, "rb") as handle:
        # A sparse file of terabytes costs the agent nothing to make: never read past the
        # limit, and check again while reading because the file may grow meanwhile.
        if info.st_size > limit:
            raise FileTooLarge(f"{rel}: {info.st_size} bytes, more than the {limit} bytes allowed")
        data = handle.read(limit + 1)
        if len(data) > limit:
            raise FileTooLarge(f"{rel}: more than the {limit} bytes allowed")
        return data


def write_in_workspace(workspace: Path, rel: str, data: bytes) -> None:
    """Create or replace a regular file inside the workspace, making missing parents."""
    target = workspace_path(workspace, rel)
    fd = _open_beneath(workspace.resolve(), target, rel, os.O_WRONLY | os.O_CREAT,
                       make_parents=True)  # fmt: skip
    _require_regular(fd, rel)
    # Truncate only once the file is known to be a regular one of ours.
    os.ftruncate(fd, 0)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
