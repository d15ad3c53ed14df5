"""Applying a candidate patch to a fresh checkout, and undoing what it did to tests.

Patches are applied host-side to a throwaway clone with `git apply`, which refuses
paths outside the tree and writes through no symbolic link; a patch that does not
apply strictly is retried leniently (recounted hunks, whitespace ignored, one line of
context), then with `patch --fuzz`, as SWE-bench's harness does. The outcome says
which one worked, so lenient applications stay visible in reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sandboxes.gitcmd import BASE_ENV, GitError, git

ApplyStatus = Literal["empty", "applied", "applied_with_fuzz", "does_not_apply"]
_STRICT = ["apply", "--whitespace=nowarn", "-"]
_LENIENT = ["apply", "--whitespace=nowarn", "--recount", "--ignore-whitespace", "-C1", "-"]
_PATCH = ["patch", "--batch", "--forward", "--no-backup-if-mismatch", "-r", "-", "-p1", "--fuzz=3"]


@dataclass(frozen=True)
class ApplyResult:
    status: ApplyStatus
    output: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("applied", "applied_with_fuzz")


def apply_patch(checkout: Path, patch: str) -> ApplyResult:
    """Apply `patch` to the work tree of `checkout` (strict, then lenient)."""
    if not patch.strip():
        return ApplyResult("empty")
    if not patch.endswith("\n"):
        patch += "\n"  # an editor or a JSON round trip often drops the last newline
    data = patch.encode("utf-8", "surrogateescape")
    errors: list[str] = []
    for args, status in ((_STRICT, "applied"), (_LENIENT, "applied_with_fuzz")):
        try:
            git(args, cwd=checkout, input=data)
            return ApplyResult(status)  # type: ignore[arg-type]
        except GitError as exc:
            errors.append(exc.stderr.strip())
    if shutil.which("patch"):
        dry = subprocess.run([*_PATCH, "--dry-run"], cwd=checkout, input=data, capture_output=True)
        if dry.returncode == 0:
            real = subprocess.run(_PATCH, cwd=checkout, input=data, capture_output=True)
            if real.returncode == 0:
                return ApplyResult("applied_with_fuzz", real.stdout.decode("utf-8", "replace"))
        errors.append(dry.stdout.decode("utf-8", "replace").strip())
    return ApplyResult("does_not_apply", "\n".join(e for e in errors if e)[-2000:])


def changed_paths(checkout: Path) -> list[str]:
    """Every path the work tree changed against HEAD: modified, added, deleted, untracked."""
    out = git(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"],
              cwd=checkout)  # fmt: skip
    paths = []
    for entry in out.split("\0"):
        if len(entry) > 3:
            paths.append(entry[3:])
    return sorted(set(paths))


def _in_head(checkout: Path, rel: str) -> bool:
    proc = subprocess.run(["git", "cat-file", "-e", f"HEAD:{rel}"], cwd=checkout,
                          env={**os.environ, **BASE_ENV}, capture_output=True)  # fmt: skip
    return proc.returncode == 0


def restore_paths(checkout: Path, paths: list[str]) -> None:
    """Make `paths` exactly as in HEAD again (removing those HEAD does not have)."""
    root = checkout.resolve()
    for rel in paths:
        target = root / rel
        if _in_head(checkout, rel):
            git(["checkout", "HEAD", "--", rel], cwd=checkout)
        elif target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir():
            shutil.rmtree(target)
