"""The part of GitHub's webhook and REST payloads that the bot reads.

GitHub's objects carry dozens of fields and gain new ones over time, and GitHub
Enterprise Server versions lag behind github.com; so these models read only what the
bot uses and ignore the rest (unlike engram's own data, which forbids unknown fields).
Field names and meanings follow GitHub's REST and webhook documentation.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GitHubObject(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class User(GitHubObject):
    login: str
    id: int | None = None
    type: str = "User"  # "User" | "Bot" | "Organization"


class Label(GitHubObject):
    name: str


class Repository(GitHubObject):
    full_name: str
    name: str
    owner: User
    default_branch: str = "main"
    clone_url: str | None = None
    html_url: str | None = None
    private: bool = False
    fork: bool = False


class Issue(GitHubObject):
    number: int
    title: str
    body: str | None = None
    state: str = "open"
    user: User
    labels: list[Label] = Field(default_factory=list)
    author_association: str = "NONE"
    html_url: str | None = None
    # Present (an object of URLs) when the "issue" is a pull request.
    pull_request: dict[str, Any] | None = None

    @property
    def is_pull_request(self) -> bool:
        return self.pull_request is not None

    def has_label(self, name: str) -> bool:
        return any(label.name == name for label in self.labels)


class Comment(GitHubObject):
    id: int
    body: str | None = None
    user: User
    author_association: str = "NONE"
    html_url: str | None = None


class PullRef(GitHubObject):
    ref: str
    sha: str
    repo: Repository | None = None  # None when the head fork was deleted


class PullRequest(GitHubObject):
    number: int
    state: str
    title: str = ""
    body: str | None = None
    html_url: str | None = None
    user: User | None = None
    draft: bool = False
    # `merged` is in the full pull request object (REST get, webhooks), not in list results.
    merged: bool | None = None
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    head: PullRef
    base: PullRef


class Installation(GitHubObject):
    id: int


class Permission(GitHubObject):
    """`GET /repos/{owner}/{repo}/collaborators/{username}/permission`."""

    permission: str  # admin | write | read | none (maintain → write, triage → read)
    role_name: str | None = None


# ----------------------------------------------------------------------- webhook events


class IssuesEvent(GitHubObject):
    action: str
    issue: Issue
    label: Label | None = None
    repository: Repository
    sender: User
    installation: Installation | None = None


class IssueCommentEvent(GitHubObject):
    action: str
    issue: Issue
    comment: Comment
    repository: Repository
    sender: User
    installation: Installation | None = None


class PullRequestEvent(GitHubObject):
    action: str
    number: int
    pull_request: PullRequest
    repository: Repository
    sender: User
    installation: Installation | None = None


EVENT_MODELS: dict[str, type[GitHubObject]] = {
    "issues": IssuesEvent,
    "issue_comment": IssueCommentEvent,
    "pull_request": PullRequestEvent,
}
