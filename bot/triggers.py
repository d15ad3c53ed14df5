"""Which deliveries start work, and for whom.

`decide(event, payload, settings)` is a pure function of the delivery: it never calls
GitHub, so the webhook server can answer in milliseconds and the Actions entry can
decide before cloning anything. It returns a `Trigger` (work to queue) or `Ignored`
(with the reason, which is logged and returned to GitHub in the delivery response).

Trust rules:

- `/engram` comment: the comment's `author_association` must be in
  `bot.trusted_associations`, or the login in `bot.allow_users`. GitHub computes the
  association, so it cannot be forged by the commenter.
- label: only people with triage access or more can label issues, but issue templates
  can apply labels for anyone who opens an issue, and the `labeled` event does not say
  what access its sender has. Unless the sender is in `bot.allow_users`, the trigger is
  queued with `needs_permission_check` and the worker asks GitHub for the sender's
  permission (write or admin) before doing anything.
- Bot accounts never trigger work (a bot answering a bot is how loops start), unless
  listed in `bot.allow_users`.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import ValidationError

from agent.config import BotSection
from agent.types import Model
from bot.payloads import (
    EVENT_MODELS,
    IssueCommentEvent,
    IssuesEvent,
    PullRequestEvent,
)

#: Every branch the bot pushes starts with this; the PR-closed handler recognises its PRs by it.
BRANCH_PREFIX = "engram/issue-"

#: Events the bot subscribes to (plus `ping`, which the server answers itself).
HANDLED_EVENTS = frozenset(EVENT_MODELS)


def issue_branch(issue: int, short: str) -> str:
    return f"{BRANCH_PREFIX}{issue}-{short}"


class TriggerKind(StrEnum):
    SOLVE = "solve"
    PR_CLOSED = "pr_closed"


class Trigger(Model):
    """Work to do, as decided from one delivery. Persisted with the job."""

    kind: TriggerKind
    repo: str  # "owner/name"
    number: int
    via: Literal["label", "command", "pull_request"]
    requested_by: str
    association: str | None = None
    needs_permission_check: bool = False
    instruction: str = ""
    installation_id: int | None = None
    clone_url: str | None = None
    default_branch: str = "main"
    html_url: str | None = None
    label: str | None = None
    merged: bool | None = None
    head_ref: str | None = None
    head_sha: str | None = None


class Ignored(Model):
    reason: str


class PayloadError(ValueError):
    """The delivery's body is not the payload its event name promises."""


def _is_trusted_association(association: str | None, settings: BotSection) -> bool:
    trusted = {a.upper() for a in settings.trusted_associations}
    return bool(association) and association.upper() in trusted


def _allowed_user(login: str, settings: BotSection) -> bool:
    return login.lower() in {u.lower() for u in settings.allow_users}


def parse_command(body: str | None, command: str) -> str | None:
    """The instruction after `command` when the comment's first non-blank line starts with it.

    `/engram` and `/engram use the stdlib only` trigger; `/engramx`, a quoted
    `> /engram`, or the command in the middle of a sentence do not. Returns None when
    the comment is not a command, else the rest of the comment (possibly empty).
    """
    if not body:
        return None
    lines = body.strip().splitlines()
    if not lines:
        return None
    first = lines[0].strip()
    match = re.match(rf"^{re.escape(command)}(?=\s|$)", first, flags=re.IGNORECASE)
    if not match:
        return None
    rest = [first[match.end() :].strip(), *lines[1:]]
    return "\n".join(rest).strip()


def decide(event: str, payload: dict[str, Any], settings: BotSection) -> Trigger | Ignored:
    """Classify one delivery. Raises PayloadError when the payload does not parse."""
    model = EVENT_MODELS.get(event)
    if model is None:
        return Ignored(reason=f"event '{event}' is not handled")
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(
            f"'{event}' payload does not parse: {exc.error_count()} problem(s)"
        ) from exc
    if isinstance(parsed, IssuesEvent):
        return _from_issues(parsed, settings)
    if isinstance(parsed, IssueCommentEvent):
        return _from_comment(parsed, settings)
    assert isinstance(parsed, PullRequestEvent)
    return _from_pull_request(parsed)


def _from_issues(ev: IssuesEvent, settings: BotSection) -> Trigger | Ignored:
    if ev.action != "labeled":
        return Ignored(reason=f"issues.{ev.action} does not start work")
    if ev.label is None or ev.label.name != settings.label:
        return Ignored(reason=f"label is not '{settings.label}'")
    if ev.issue.is_pull_request:
        return Ignored(reason="labelled item is a pull request")
    if ev.issue.state != "open":
        return Ignored(reason="issue is closed")
    allowed = _allowed_user(ev.sender.login, settings)
    if ev.sender.type == "Bot" and not allowed:
        return Ignored(reason=f"sender {ev.sender.login} is a bot")
    return Trigger(
        kind=TriggerKind.SOLVE,
        repo=ev.repository.full_name,
        number=ev.issue.number,
        via="label",
        requested_by=ev.sender.login,
        needs_permission_check=not allowed,
        installation_id=ev.installation.id if ev.installation else None,
        clone_url=ev.repository.clone_url,
        default_branch=ev.repository.default_branch,
        html_url=ev.issue.html_url,
        label=ev.label.name,
    )


def _from_comment(ev: IssueCommentEvent, settings: BotSection) -> Trigger | Ignored:
    if ev.action != "created":
        return Ignored(reason=f"issue_comment.{ev.action} does not start work")
    instruction = parse_command(ev.comment.body, settings.command)
    if instruction is None:
        return Ignored(reason=f"comment is not a {settings.command} command")
    if ev.issue.is_pull_request:
        return Ignored(reason="commands on pull requests are not handled")
    if ev.issue.state != "open":
        return Ignored(reason="issue is closed")
    login = ev.comment.user.login
    allowed = _allowed_user(login, settings)
    if ev.comment.user.type == "Bot" and not allowed:
        return Ignored(reason=f"commenter {login} is a bot")
    association = ev.comment.author_association
    if not (allowed or _is_trusted_association(association, settings)):
        return Ignored(reason=f"{login} ({association}) is not trusted to run {settings.command}")
    return Trigger(
        kind=TriggerKind.SOLVE,
        repo=ev.repository.full_name,
        number=ev.issue.number,
        via="command",
        requested_by=login,
        association=association,
        instruction=instruction,
        installation_id=ev.installation.id if ev.installation else None,
        clone_url=ev.repository.clone_url,
        default_branch=ev.repository.default_branch,
        html_url=ev.issue.html_url,
    )


def _from_pull_request(ev: PullRequestEvent) -> Trigger | Ignored:
    if ev.action != "closed":
        return Ignored(reason=f"pull_request.{ev.action} is not handled")
    pr = ev.pull_request
    if not pr.head.ref.startswith(BRANCH_PREFIX):
        return Ignored(reason="not an engram pull request")
    head_repo = pr.head.repo.full_name if pr.head.repo else None
    if head_repo != ev.repository.full_name:
        # A fork can name its branch anything; only branches in the repository itself
        # can have been pushed by the bot.
        return Ignored(reason="pull request comes from a fork")
    return Trigger(
        kind=TriggerKind.PR_CLOSED,
        repo=ev.repository.full_name,
        number=pr.number,
        via="pull_request",
        requested_by=ev.sender.login,
        installation_id=ev.installation.id if ev.installation else None,
        clone_url=ev.repository.clone_url,
        default_branch=ev.repository.default_branch,
        html_url=pr.html_url,
        merged=bool(pr.merged),
        head_ref=pr.head.ref,
        head_sha=pr.head.sha,
    )
