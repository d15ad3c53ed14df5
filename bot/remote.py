"""The bot's clone of a repository, and the only two things it does with the remote:
fetch, and push a branch of its own.

The token never touches disk and never appears in a URL: each git command that talks
to the remote gets `http.<origin>/.extraHeader: Authorization: Basic …` through git's
environment-based configuration (`GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`,
git ≥ 2.31), which only that git process and its children can see (unlike command-line
arguments, which any local user can read in /proc). The header is scoped to the
remote's scheme+host, so a redirect or submodule elsewhere does not receive it, and
credential helpers are switched off so nothing is stored. `.git/config` keeps the plain
URL. The clone lives in ENGRAM_HOME, outside any sandbox; the agent's own workspace is
a further clone of it without a remote.

Pushes are refused unless the branch starts with `engram/issue-` and is not the
default branch, and are fenced with `--force-with-lease`: the bot overwrites only a
branch that does not exist yet or that holds a commit this job itself pushed before.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import urlsplit

from bot.triggers import BRANCH_PREFIX
from sandboxes.gitcmd import GitError, git

# Tracing would print the header; never let an inherited GIT_TRACE* turn it on.
NO_TRACE = {
    "GIT_TRACE": "0",
    "GIT_TRACE_CURL": "0",
    "GIT_TRACE_PACKET": "0",
    "GIT_CURL_VERBOSE": "0",
    "GIT_TRACE_REDACT": "1",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
}


class RemoteError(RuntimeError):
    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class PushRefused(RemoteError):
    """The bot will not push this: a safety rule, not a network problem."""

    user_facing = True


def check_clone_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        if parts.username or parts.password:
            raise RemoteError("the clone URL contains credentials; give the plain URL instead")
        return url
    if parts.scheme in ("", "file"):
        return url  # a local path: tests and mirrors
    raise RemoteError(f"unsupported clone URL scheme '{parts.scheme}' (use https)")


def auth_env(url: str, token: str | None) -> dict[str, str]:
    """Environment for one git process that may talk to `url` with `token`."""
    entries = [("credential.helper", "")]
    parts = urlsplit(url)
    if token and parts.scheme in ("http", "https"):
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        origin = f"{parts.scheme}://{parts.netloc}/"
        entries.append((f"http.{origin}.extraHeader", f"Authorization: Basic {basic}"))
    env = dict(NO_TRACE)
    env["GIT_CONFIG_COUNT"] = str(len(entries))
    for i, (key, value) in enumerate(entries):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def _transient(exc: GitError) -> bool:
    text = exc.stderr.lower()
    permanent = (
        "authentication failed",
        "403",
        "401",
        "not found",
        "does not exist",
        "stale info",
        "rejected",
        "could not read username",
    )
    return not any(p in text for p in permanent)


class RepoClone:
    """A working clone of one repository under ENGRAM_HOME, owned by one job."""

    def __init__(self, path: Path, url: str, token: Callable[[], str | None]):
        self.path = path
        self.url = check_clone_url(url)
        self._token = token

    def _remote_git(self, args: list[str], cwd: Path | None = None) -> str:
        try:
            return git(args, cwd=cwd, env=auth_env(self.url, self._token()))
        except GitError as exc:
            raise RemoteError(
                f"git {args[0]} failed: {exc.stderr.strip()[-400:]}", transient=_transient(exc)
            ) from exc

    def sync(self, branch: str) -> str:
        """Clone (or fetch) and check out `origin/<branch>` detached and clean; its commit."""
        if not (self.path / ".git").is_dir():
            shutil.rmtree(self.path, ignore_errors=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._remote_git(["clone", "--quiet", "--no-checkout", self.url, str(self.path)])
        else:
            self._remote_git(["fetch", "--quiet", "--prune", "origin"], cwd=self.path)
        ref = f"refs/remotes/origin/{branch}"
        try:
            commit = git(["rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=self.path).strip()
        except GitError as exc:
            raise RemoteError(f"the remote has no branch '{branch}'") from exc
        git(["checkout", "--quiet", "--detach", "--force", commit], cwd=self.path)
        git(["clean", "-fdxq"], cwd=self.path)
        return commit

    def remote_branch(self, branch: str) -> str | None:
        out = self._remote_git(["ls-remote", "origin", f"refs/heads/{branch}"], cwd=self.path)
        line = out.strip().splitlines()[0] if out.strip() else ""
        return line.split()[0] if line else None

    def has_commit(self, commit: str) -> bool:
        probe = git(["cat-file", "-t", commit], cwd=self.path, check=False).strip()
        return probe == "commit"

    def push(
        self, commit: str, branch: str, default_branch: str, pushed_before: Iterable[str] = ()
    ) -> bool:
        """Make remote `branch` point at `commit`. False when it already did.

        `pushed_before`: commits an earlier attempt of the same job may have pushed
        there; only those may be overwritten.
        """
        if not branch.startswith(BRANCH_PREFIX):
            raise PushRefused(
                f"refusing to push '{branch}': bot branches start with {BRANCH_PREFIX}"
            )
        if branch == default_branch or branch in ("main", "master"):
            raise PushRefused(f"refusing to push to the default branch '{branch}'")
        current = self.remote_branch(branch)
        if current == commit:
            return False
        if current is not None and current not in set(pushed_before):
            raise PushRefused(
                f"'{branch}' on the remote holds {current[:12]}, which this job did not push; "
                "not overwriting someone else's work"
            )
        lease = f"--force-with-lease=refs/heads/{branch}:{current or ''}"
        self._remote_git(
            ["push", "--quiet", "--no-verify", lease, "origin", f"{commit}:refs/heads/{branch}"],
            cwd=self.path,
        )
        return True

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
