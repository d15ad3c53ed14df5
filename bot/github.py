"""The GitHub REST calls the bot makes, and nothing else.

A thin wrapper over githubkit so that (1) the API base URL is configurable (GitHub
Enterprise Server is `https://HOST/api/v3`), (2) responses are read into the bot's own
lenient models (`bot.payloads`) rather than githubkit's strict ones, which reject
objects from Enterprise versions that lack newer fields, and (3) errors become one
`GitHubError` that says whether retrying can help.

HTTP caching is off: the bot asks "is there already a PR from this branch?" to stay
idempotent, and a cached answer would defeat that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from bot.payloads import Comment, Issue, Permission, PullRequest, Repository

log = logging.getLogger(__name__)

USER_AGENT = "engram-bot"
PAGE_SIZE = 100
MAX_PAGES = 20


class GitHubError(RuntimeError):
    """A GitHub API call failed. `transient`: a later retry may succeed."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        transient: bool = False,
        retry_after_s: float | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.transient = transient
        self.retry_after_s = retry_after_s


def split_repo(full_name: str) -> tuple[str, str]:
    owner, sep, name = full_name.partition("/")
    if not sep or not owner or not name or "/" in name:
        raise ValueError(f"repository must be 'owner/name', got {full_name!r}")
    return owner, name


class GitHubClient:
    """GitHub REST for one repository-owning account; `token` is called before each request
    batch so that short-lived installation tokens are refreshed transparently."""

    def __init__(self, api_url: str, token: Callable[[], str], timeout: float = 30.0):
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._gh: Any = None
        self._gh_token: str | None = None

    # ------------------------------------------------------------------ plumbing

    def _client(self) -> Any:
        from githubkit import GitHub
        from githubkit.retry import RetryServerError

        token = self._token()
        if self._gh is None or token != self._gh_token:
            self._gh = GitHub(
                token,
                base_url=self.api_url,
                user_agent=USER_AGENT,
                timeout=self._timeout,
                http_cache=False,
                trust_env=False,
                # Server errors: two quick retries in place. Rate limits: not waited out
                # here (that can take an hour, holding a worker); the job is re-queued
                # for when the limit resets.
                auto_retry=RetryServerError(max_retry=2),
            )
            self._gh_token = token
        return self._gh

    def _call(self, what: str, fn: Callable[[Any], Any]) -> Any:
        """Run one githubkit call; return the decoded JSON body."""
        from githubkit.exception import (
            GitHubException,
            RateLimitExceeded,
            RequestError,
            RequestFailed,
        )

        try:
            response = fn(self._client().rest)
        except RateLimitExceeded as exc:
            wait = exc.retry_after.total_seconds()
            raise GitHubError(
                f"{what}: rate limited for {wait:.0f}s", exc.response.status_code, True, wait
            ) from exc
        except RequestFailed as exc:
            status = exc.response.status_code
            try:
                detail = exc.response.json().get("message", "")
            except Exception:
                detail = exc.response.raw_response.text[:200]
            transient = (
                status >= 500
                or status == 429
                or (status == 403 and "rate limit" in str(detail).lower())
            )
            raise GitHubError(f"{what}: HTTP {status} {detail}".strip(), status, transient) from exc
        except RequestError as exc:
            raise GitHubError(f"{what}: {type(exc.exc).__name__}", None, True) from exc
        except GitHubException as exc:
            raise GitHubError(f"{what}: {type(exc).__name__}: {exc}", None, False) from exc
        if response.status_code == 204:
            return None
        return response.json()

    # ------------------------------------------------------------------ repository

    def get_repo(self, repo: str) -> Repository:
        owner, name = split_repo(repo)
        data = self._call(f"get {repo}", lambda r: r.repos.get(owner, name))
        return Repository.model_validate(data)

    def permission(self, repo: str, login: str) -> Permission:
        owner, name = split_repo(repo)
        data = self._call(
            f"permission of {login} on {repo}",
            lambda r: r.repos.get_collaborator_permission_level(owner, name, login),
        )
        return Permission.model_validate(data)

    # ------------------------------------------------------------------ issues

    def get_issue(self, repo: str, number: int) -> Issue:
        owner, name = split_repo(repo)
        data = self._call(f"get issue {repo}#{number}", lambda r: r.issues.get(owner, name, number))
        return Issue.model_validate(data)

    def list_issue_comments(self, repo: str, number: int) -> list[Comment]:
        owner, name = split_repo(repo)
        out: list[Comment] = []
        for page in range(1, MAX_PAGES + 1):
            data = self._call(
                f"list comments of {repo}#{number}",
                lambda r, p=page: r.issues.list_comments(
                    owner, name, number, per_page=PAGE_SIZE, page=p
                ),
            )
            out.extend(Comment.model_validate(c) for c in data)
            if len(data) < PAGE_SIZE:
                break
        return out

    def create_issue_comment(self, repo: str, number: int, body: str) -> Comment:
        owner, name = split_repo(repo)
        data = self._call(
            f"comment on {repo}#{number}",
            lambda r: r.issues.create_comment(owner, name, number, body=body),
        )
        return Comment.model_validate(data)

    def remove_label(self, repo: str, number: int, label: str) -> bool:
        """Remove a label; False when the issue did not have it (404)."""
        owner, name = split_repo(repo)
        try:
            self._call(
                f"remove label from {repo}#{number}",
                lambda r: r.issues.remove_label(owner, name, number, quote(label, safe="")),
            )
        except GitHubError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # ------------------------------------------------------------------ pull requests

    def find_pull_by_head(self, repo: str, branch: str) -> PullRequest | None:
        """The most recent PR (any state) whose head is `branch` of `repo` itself."""
        owner, name = split_repo(repo)
        data = self._call(
            f"list pulls of {repo} from {branch}",
            lambda r: r.pulls.list(
                owner, name, state="all", head=f"{owner}:{branch}", per_page=PAGE_SIZE
            ),
        )
        pulls = [PullRequest.model_validate(p) for p in data]
        # Filter again: some servers ignore `head`, and a fork may use the same branch name.
        ours = [
            p
            for p in pulls
            if p.head.ref == branch and p.head.repo is not None and p.head.repo.full_name == repo
        ]
        return max(ours, key=lambda p: p.number) if ours else None

    def create_pull(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = True
    ) -> PullRequest:
        owner, name = split_repo(repo)
        data = self._call(
            f"open pull request on {repo}",
            lambda r: r.pulls.create(
                owner, name, head=head, base=base, title=title, body=body, draft=draft
            ),
        )
        return PullRequest.model_validate(data)

    def get_pull(self, repo: str, number: int) -> PullRequest:
        owner, name = split_repo(repo)
        data = self._call(f"get pull {repo}#{number}", lambda r: r.pulls.get(owner, name, number))
        return PullRequest.model_validate(data)
