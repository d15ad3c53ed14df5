"""Thin, explicit git invocation (subprocess, not a library: every call is visible here)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitError(RuntimeError):
    def __init__(self, args: list[str], code: int, stderr: str):
        self.code = code
        self.stderr = stderr
        super().__init__(f"git {' '.join(args)} failed ({code}): {stderr.strip()[-600:]}")


# Never let the user's global config (hooks, signing, pagers, credential helpers) or
# their identity leak into engram's own git operations.
BASE_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "engram",
    "GIT_AUTHOR_EMAIL": "engram@localhost",
    "GIT_COMMITTER_NAME": "engram",
    "GIT_COMMITTER_EMAIL": "engram@localhost",
    "LC_ALL": "C",
}
# Settings that override every repository's own config (command-line scope wins over a
# repository's .git/config). A workspace's .git/config is written by the agent, and some
# settings run programs on the host: `core.fsmonitor` runs on `ls-files --others`,
# `status`, `add`…, hooks on commits. Not covered (names are arbitrary): diff and filter
# drivers a repository config defines — commands that read file contents of a
# workspace must go through the snapshot store (GIT_DIR outside the workspace).
NEUTRALISED = (("core.fsmonitor", "false"), ("core.hooksPath", os.devnull))


def _environment(env: dict[str, str] | None) -> dict[str, str]:
    # Inherited GIT_CONFIG_* would be the user's configuration by another route.
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
    full.update(BASE_ENV)
    full.update(env or {})
    # Appended after the caller's own entries (later entries win).
    count = int(full.get("GIT_CONFIG_COUNT") or 0)
    for offset, (key, value) in enumerate(NEUTRALISED):
        full[f"GIT_CONFIG_KEY_{count + offset}"] = key
        full[f"GIT_CONFIG_VALUE_{count + offset}"] = value
    full["GIT_CONFIG_COUNT"] = str(count + len(NEUTRALISED))
    return full


def git(
    args: list[str],
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=_environment(env), input=input, capture_output=True
    )
    if check and proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode("utf-8", "replace"))
    return proc.stdout.decode("utf-8", "replace")


def toplevel(path: Path) -> Path | None:
    try:
        return Path(git(["rev-parse", "--show-toplevel"], cwd=path).strip())
    except (GitError, NotADirectoryError, FileNotFoundError):
        return None


def is_dirty(repo: Path) -> bool:
    return bool(git(["status", "--porcelain", "--untracked-files=normal"], cwd=repo).strip())


def rev_parse(repo: Path, rev: str) -> str:
    return git(["rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=repo).strip()
