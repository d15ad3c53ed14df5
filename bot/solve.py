"""The solve job: issue → agent run → pushed branch → draft PR → issue comment.

Each stage saves what it did in the job's progress before the next begins, and each
side effect on GitHub is looked up before it is made (the PR by its head branch, the
comment by its hidden marker), so a job retried after a crash at any point finishes
the work without a second run, a second PR or a second comment.

The branch name `engram/issue-<n>-<short>` is fixed per job (short = a hash of the
job id and repository), so every attempt of a job pushes to the same branch and finds
the same PR; a later job for the same issue gets a branch of its own.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from agent.home import Home
from agent.types import Task
from bot import report
from bot.context import BotContext, JobHandle, JobResult, bot_dir
from bot.github import GitHubClient, GitHubError
from bot.payloads import Issue
from bot.queue import Job, JobState
from bot.remote import RepoClone
from bot.runner import RunLimits, RunOutcome
from bot.triggers import issue_branch

log = logging.getLogger(__name__)

PROBLEM_LIMIT = 20_000
WRITE_PERMISSIONS = ("admin", "write")


def job_clone_dir(home: Home, job_id: int) -> Path:
    return bot_dir(home) / "work" / f"job-{job_id}"


def job_short(job: Job) -> str:
    return hashlib.sha256(f"{job.repo}#{job.id}".encode()).hexdigest()[:6]


def problem_statement(issue: Issue, instruction: str, requested_by: str) -> str:
    body = (issue.body or "").strip() or "(no description)"
    if len(body) > PROBLEM_LIMIT:
        body = body[:PROBLEM_LIMIT] + "\n… (issue text cut)"
    text = f"{issue.title.strip()}\n\n{body}"
    if instruction:
        text += f"\n\nAdditional instruction from @{requested_by}: {instruction}"
    return text


def ensure_comment(gh: GitHubClient, handle: JobHandle, body: str) -> int:
    """Post `body` on the job's issue unless a comment with the job's marker exists."""
    job = handle.job
    if handle.progress.get("comment_id"):
        return int(handle.progress["comment_id"])
    marker = report.comment_marker(job.id)
    for comment in gh.list_issue_comments(job.repo, job.number):
        if marker in (comment.body or ""):
            handle.save(comment_id=comment.id)
            return comment.id
    handle.check()
    comment = gh.create_issue_comment(job.repo, job.number, body)
    handle.save(comment_id=comment.id)
    return comment.id


def _open_pull(
    gh: GitHubClient, handle: JobHandle, *, branch: str, base: str, title: str, body: str
) -> tuple[int, str, bool]:
    job = handle.job
    handle.check()
    try:
        pull = gh.create_pull(job.repo, head=branch, base=base, title=title, body=body, draft=True)
        return pull.number, pull.html_url or "", True
    except GitHubError as exc:
        if exc.status != 422:
            raise
        # 422: a PR from this branch appeared meanwhile (another attempt of this job), or
        # the repository cannot have drafts (private repositories on some plans).
        existing = gh.find_pull_by_head(job.repo, branch)
        if existing is not None:
            return existing.number, existing.html_url or "", existing.draft
        if "draft" not in str(exc).lower():
            raise
    handle.check()
    pull = gh.create_pull(job.repo, head=branch, base=base, title=title, body=body, draft=False)
    return pull.number, pull.html_url or "", False


def run_solve(job: Job, handle: JobHandle, ctx: BotContext) -> JobResult:
    trig = job.trigger
    gh = ctx.github(trig.installation_id)
    issue = gh.get_issue(job.repo, job.number)
    if issue.is_pull_request or issue.state != "open":
        return JobResult(JobState.SKIPPED, {"reason": f"issue is {issue.state}"})

    if trig.needs_permission_check and not handle.progress.get("permission_ok"):
        permission = gh.permission(job.repo, trig.requested_by).permission
        if permission not in WRITE_PERMISSIONS:
            log.warning(
                "job %s: %s has '%s' access; label ignored", job.id, trig.requested_by, permission
            )
            return JobResult(
                JobState.SKIPPED,
                {"reason": f"{trig.requested_by} has '{permission}' access, not write"},
            )
        handle.save(permission_ok=True)

    repo_info = gh.get_repo(job.repo)
    default_branch = repo_info.default_branch
    clone_url = repo_info.clone_url or trig.clone_url
    if not clone_url:
        raise GitHubError(f"{job.repo} has no clone URL", transient=False)
    branch = handle.progress.get("branch") or issue_branch(job.number, job_short(job))
    if "branch" not in handle.progress:
        handle.save(branch=branch)
    clone = RepoClone(
        job_clone_dir(ctx.home, job.id), clone_url, ctx.token_fn(trig.installation_id)
    )

    outcome = _saved_outcome(handle)
    checked = outcome is not None and outcome.changed
    # An earlier attempt may have got as far as a PR: then nothing is run or pushed again.
    pull = gh.find_pull_by_head(job.repo, branch) if checked else None
    if pull is None and not _usable(outcome, clone):
        base_commit = clone.sync(default_branch)
        task = Task(
            id=f"{job.repo.replace('/', '-')}-{job.number}-job{job.id}",
            repo=str(clone.path),
            base_commit=base_commit,
            problem_statement=problem_statement(issue, trig.instruction, trig.requested_by),
            source="bot",
            labels={
                "issue_url": issue.html_url or "",
                "repo": job.repo,
                "branch": branch,
                "job": str(job.id),
                "requested_by": trig.requested_by,
            },
        )
        limits = RunLimits(max_steps=ctx.settings.max_steps, max_wall_s=ctx.settings.max_wall_s)
        log.info(
            "job %s: running the agent on %s#%s (base %s)",
            job.id,
            job.repo,
            job.number,
            base_commit[:12],
        )
        outcome = ctx.runner().run(task, clone.path, limits)
        handle.save(outcome=outcome.model_dump(mode="json"))

    result = {
        "run_id": outcome.run_id,
        "exit_status": outcome.exit_status.value,
        "trajectory_path": str(outcome.trajectory_path),
        "branch": branch,
    }
    if not outcome.changed:
        ensure_comment(gh, handle, report.no_change_comment(job.id, outcome, ctx.settings.command))
        consume_label(gh, handle)
        clone.remove()
        return JobResult(JobState.DONE, {**result, "pull_number": None})

    assert outcome.commit is not None
    if pull is None and not checked:
        pull = gh.find_pull_by_head(job.repo, branch)
    if pull is not None:
        number, url, draft = pull.number, pull.html_url or "", pull.draft
        log.info("job %s: PR #%s from %s already exists", job.id, number, branch)
    else:
        attempts = [*handle.progress.get("push_attempts", []), outcome.commit]
        handle.save(push_attempts=sorted(set(attempts)))
        handle.check()
        clone.push(outcome.commit, branch, default_branch, pushed_before=attempts)
        handle.save(pushed_commit=outcome.commit)
        number, url, draft = _open_pull(
            gh,
            handle,
            branch=branch,
            base=default_branch,
            title=report.pull_title(issue.title, job.number),
            body=ctx.redactor(report.pull_body(outcome, job.number, job.id, trig.requested_by)),
        )
    handle.save(pull_number=number, pull_url=url, pushed_commit=outcome.commit)
    ensure_comment(gh, handle, report.pr_opened_comment(job.id, url, outcome, draft))
    consume_label(gh, handle)
    clone.remove()
    return JobResult(
        JobState.DONE,
        {
            **result,
            "pull_number": number,
            "pull_url": url,
            "commit": outcome.commit,
            "draft": draft,
        },
    )


def _saved_outcome(handle: JobHandle) -> RunOutcome | None:
    raw = handle.progress.get("outcome")
    return RunOutcome.model_validate(raw) if raw else None


def _usable(outcome: RunOutcome | None, clone: RepoClone) -> bool:
    """Whether an earlier attempt's run can be used: its commit is still in the clone."""
    if outcome is None:
        return False
    if outcome.commit is None or (
        (clone.path / ".git").is_dir() and clone.has_commit(outcome.commit)
    ):
        return True
    log.warning("run %s: its commit is gone from the clone; running again", outcome.run_id)
    return False


def consume_label(gh: GitHubClient, handle: JobHandle) -> None:
    """Take the trigger label off, so adding it again starts a new job."""
    trig = handle.job.trigger
    if trig.via != "label" or not trig.label or handle.progress.get("label_removed"):
        return
    try:
        gh.remove_label(handle.job.repo, handle.job.number, trig.label)
    except GitHubError as exc:
        log.warning("job %s: could not remove label '%s': %s", handle.job.id, trig.label, exc)
        return
    handle.save(label_removed=True)
