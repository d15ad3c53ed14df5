"""The bundled example repositories (`examples/<name>/`), materialised as git repos.

engram works on git repositories; the examples live as plain folders inside engram's
own repository. `materialize` copies one out and commits it with a fixed identity and
date, so its root commit — and therefore its repo id — is the same on every machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", ".git")
FIXED_ENV = {
    "GIT_AUTHOR_NAME": "engram examples", "GIT_AUTHOR_EMAIL": "examples@engram.invalid",
    "GIT_COMMITTER_NAME": "engram examples", "GIT_COMMITTER_EMAIL": "examples@engram.invalid",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00+00:00", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00+00:00",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip


class ExampleError(RuntimeError):
    user_facing = True


def examples_dir() -> Path:
    path = Path(__file__).resolve().parents[1] / "examples"
    if not path.is_dir():
        raise ExampleError(
            f"{path} not found: the examples ship with engram's source checkout (git clone), "
            "not with an installed wheel."
        )
    return path


def available() -> list[str]:
    return sorted(p.name for p in examples_dir().iterdir() if (p / "pyproject.toml").is_file())


def _git(args: list[str], cwd: Path) -> str:
    env = {**os.environ, **FIXED_ENV}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout  # fmt: skip


def materialize(name: str, dest: Path, fresh: bool = False) -> Path:
    """Copy example `name` to `dest` as a one-commit git repository (idempotent)."""
    source = examples_dir() / name
    if not source.is_dir():
        raise ExampleError(f"no example '{name}'; available: {', '.join(available())}")
    if dest.exists():
        if not fresh and (dest / ".git").is_dir():
            return dest
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=IGNORE)
    _git(["init", "-q", "-b", "main"], dest)
    _git(["add", "-A"], dest)
    _git(["commit", "-q", "-m", f"{name}: bundled example"], dest)
    return dest


def commit_all(repo: Path, message: str) -> str:
    """Commit the working tree of a materialised example (fixed identity); returns the id."""
    _git(["add", "-A"], repo)
    _git(["commit", "-q", "-m", message], repo)
    return _git(["rev-parse", "HEAD"], repo).strip()
