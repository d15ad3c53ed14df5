"""Repository identity, stable across clones.

A repo id is derived from the repository's root commit(s) and, where there is one,
its normalised `origin` URL — never from a local path — so adapters, notes and caches
follow the repository, not the directory it happens to be cloned into.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from sandboxes.gitcmd import GitError, git, toplevel


class RepoError(RuntimeError):
    user_facing = True


@dataclass(frozen=True)
class RepoIdentity:
    id: str
    name: str
    root_commits: tuple[str, ...]
    remote: str | None


def normalise_remote(url: str) -> str:
    """`git@github.com:Owner/Repo.git` and `https://github.com/owner/repo` → `github.com/owner/repo`."""
    url = url.strip()
    url = re.sub(r"^[a-z+]+://", "", url)
    url = re.sub(r"^[^@/]+@", "", url)  # user@ or token@
    url = url.replace(":", "/", 1) if re.match(r"^[^/]+:[^/]", url) else url
    url = re.sub(r"\.git/?$", "", url).rstrip("/")
    return url.lower()


def repo_identity(path: Path) -> RepoIdentity:
    top = toplevel(path)
    if top is None:
        raise RepoError(f"{path} is not a git repository")
    try:
        roots = tuple(sorted(git(["rev-list", "--max-parents=0", "HEAD"], cwd=top).split()))
    except GitError as exc:
        raise RepoError(f"{top} has no commits yet: commit something first") from exc
    remote_raw = git(["config", "--get", "remote.origin.url"], cwd=top, check=False).strip()
    remote = normalise_remote(remote_raw) if remote_raw else None
    digest = hashlib.sha256(("\n".join(roots) + "\n" + (remote or "")).encode()).hexdigest()
    name = (remote.rsplit("/", 1)[-1] if remote else top.name) or "repo"
    # The readable prefix comes from the remote only: a directory name is local.
    prefix = remote.rsplit("/", 1)[-1] if remote else "repo"
    slug = re.sub(r"[^a-z0-9]+", "-", prefix.lower()).strip("-")[:32] or "repo"
    return RepoIdentity(id=f"{slug}-{digest[:12]}", name=name, root_commits=roots, remote=remote)
