"""The learning signal: a bot PR was closed; was it merged as the bot wrote it?

- merged, and the PR's head is the commit the bot pushed → the run's trajectory is
  `verified_by="human-merge"`, `eligible_for_learning=True`; with `bot.auto_learn` the
  memory hook consolidates it.
- merged after people pushed their own commits to the branch → not eligible: what was
  merged is not what the agent did, and learning from the agent's part alone would
  teach the unfinished version. (The job result says so.)
- closed unmerged → not eligible.

The run behind a PR is found from the queue (the solve job saved its PR number and
pushed commit); failing that — a fresh ENGRAM_HOME, another worker host — from the
hidden marker in the PR body. The PR's state is always read back from GitHub, never
taken from the webhook payload alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot import report
from bot.context import BotContext, JobHandle, JobResult
from bot.queue import Job, JobState
from bot.runner import RunOutcome
from bot.triggers import BRANCH_PREFIX
from bot.verdict import TrajectoryMissing, record_verdict, trajectory_path

log = logging.getLogger(__name__)


def _source_run(job: Job, ctx: BotContext, body: str | None) -> tuple[str, Path, str] | None:
    """(run id, trajectory path, pushed commit) of the solve job behind this PR."""
    solve = ctx.queue.job_for_pull(job.repo, job.number)
    if solve is not None and solve.progress.get("outcome") and solve.progress.get("pushed_commit"):
        outcome = RunOutcome.model_validate(solve.progress["outcome"])
        return outcome.run_id, outcome.trajectory_path, solve.progress["pushed_commit"]
    marker = report.parse_run_marker(body)
    if marker is None:
        return None
    return marker.run_id, trajectory_path(ctx.home, marker.run_id), marker.commit


def run_pull_closed(job: Job, handle: JobHandle, ctx: BotContext) -> JobResult:
    gh = ctx.github(job.trigger.installation_id)
    pull = gh.get_pull(job.repo, job.number)
    if pull.state != "closed":
        return JobResult(JobState.SKIPPED, {"reason": "pull request is open again"})
    head_repo = pull.head.repo.full_name if pull.head.repo else None
    if not pull.head.ref.startswith(BRANCH_PREFIX) or head_repo != job.repo:
        return JobResult(JobState.SKIPPED, {"reason": "not an engram pull request"})
    source = _source_run(job, ctx, pull.body)
    if source is None:
        return JobResult(JobState.SKIPPED, {"reason": "no engram run is recorded for this PR"})
    run_id, path, pushed = source
    merged = bool(pull.merged)
    as_written = pull.head.sha == pushed
    eligible = merged and as_written
    result = {
        "run_id": run_id,
        "merged": merged,
        "head_is_bot_commit": as_written,
        "eligible_for_learning": eligible,
        "trajectory_path": str(path),
    }
    handle.check()
    try:
        if eligible:
            trajectory = record_verdict(path, eligible=True, verified_by="human-merge")
        else:
            trajectory = record_verdict(path, eligible=False)
    except TrajectoryMissing:
        log.warning("job %s: run %s has no trajectory on this machine", job.id, run_id)
        return JobResult(JobState.SKIPPED, {**result, "reason": "trajectory not on this machine"})
    log.info(
        "job %s: PR #%s %s → run %s eligible_for_learning=%s",
        job.id,
        job.number,
        "merged" if merged else "closed",
        run_id,
        eligible,
    )
    if eligible and ctx.settings.auto_learn:
        result["learned"] = _learn(ctx, trajectory, job)
    return JobResult(JobState.DONE, result)


def _learn(ctx: BotContext, trajectory, job: Job) -> str:
    if ctx.learn_hook is None:
        log.warning(
            "bot.auto_learn is on but this build has no memory.learn hook; "
            "run `engram learn` by hand"
        )
        return "no hook"
    try:
        ctx.learn_hook(trajectory, home=ctx.home)
    except Exception as exc:  # learning failing must not undo the verdict
        log.exception("job %s: auto-learn failed", job.id)
        return f"failed: {ctx.public_error(exc)}"
    return "ok"
