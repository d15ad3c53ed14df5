"""The fake GitHub's state: repositories (real bare git repositories), issues, pulls."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "human",
    "GIT_AUTHOR_EMAIL": "h@example.invalid",
    "GIT_COMMITTER_NAME": "human",
    "GIT_COMMITTER_EMAIL": "h@example.invalid",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(args: list[str], cwd: Path | None = None, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, input=input, capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {args}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


@dataclass
class Request:
    method: str
    path: str
    status: int
    authorization: str | None
    body: Any = None


@dataclass
class IssueState:
    number: int
    ident: int
    title: str
    body: str | None
    author: str
    association: str
    labels: list[str]
    state: str = "open"
    comments: list[dict] = field(default_factory=list)


@dataclass
class PullState:
    number: int
    ident: int
    title: str
    body: str | None
    author: str
    head_ref: str
    base_ref: str
    draft: bool
    state: str = "open"
    merged: bool = False
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    closed_head_sha: str | None = None


@dataclass
class RepoState:
    full_name: str
    ident: int
    default_branch: str
    bare: Path
    issues: dict[int, IssueState] = field(default_factory=dict)
    pulls: dict[int, PullState] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)
    drafts_supported: bool = True


class ApiError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        self.status = status
        self.body = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(status),
            **extra,
        }
