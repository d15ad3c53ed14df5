"""`engram bot action`: one GitHub Actions job = one delivery, processed to the end.

Reads what Actions provides — the event name (`GITHUB_EVENT_NAME`), its payload (the
file at `GITHUB_EVENT_PATH`), the repository (`GITHUB_REPOSITORY`), the API URL
(`GITHUB_API_URL`, so GitHub Enterprise works unchanged), the job's `GITHUB_TOKEN` —
decides with the same rules as the webhook server, and runs the job through the same
queue and worker, so retries and idempotence behave the same. The delivery id is the
workflow run id and attempt: re-running the workflow is a new delivery.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from agent.types import Model
from bot.context import BotContext
from bot.queue import Job, JobState
from bot.triggers import Ignored, PayloadError, Trigger, decide
from bot.worker import Worker

log = logging.getLogger(__name__)


class ActionError(RuntimeError):
    user_facing = True


class ActionEvent(Model):
    name: str
    payload: dict
    repository: str
    api_url: str | None
    delivery_id: str


class ActionReport(Model):
    delivery_id: str
    status: str
    reason: str = ""
    jobs: list[Job] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(job.state == JobState.FAILED for job in self.jobs)


def read_event(environ: Mapping[str, str]) -> ActionEvent:
    missing = [
        v
        for v in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY")
        if not environ.get(v)
    ]
    if missing:
        raise ActionError(
            f"{', '.join(missing)} not set: `engram bot action` runs inside GitHub Actions. "
            "Outside Actions use `engram bot serve` and `engram bot worker`."
        )
    path = Path(environ["GITHUB_EVENT_PATH"])
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActionError(f"cannot read the event payload at {path}: {exc}") from exc
    run = environ.get("GITHUB_RUN_ID", "local")
    attempt = environ.get("GITHUB_RUN_ATTEMPT", "1")
    return ActionEvent(
        name=environ["GITHUB_EVENT_NAME"],
        payload=payload,
        repository=environ["GITHUB_REPOSITORY"],
        api_url=environ.get("GITHUB_API_URL"),
        delivery_id=f"actions-{run}-{attempt}",
    )


def run_action(
    event: ActionEvent, ctx: BotContext, deadline_s: float | None = None
) -> ActionReport:
    try:
        decision = decide(event.name, event.payload, ctx.settings)
    except PayloadError as exc:
        raise ActionError(f"the {event.name} payload is not what GitHub sends: {exc}") from exc
    trigger: Trigger | None = None if isinstance(decision, Ignored) else decision
    reason = decision.reason if isinstance(decision, Ignored) else ""
    if trigger is not None and trigger.repo.lower() != event.repository.lower():
        raise ActionError(
            f"the event is for {trigger.repo} but this workflow runs in {event.repository}"
        )
    accepted = ctx.queue.accept(event.delivery_id, event.name, trigger, reason)
    log.info("delivery %s: %s %s", event.delivery_id, accepted.status, accepted.reason)
    if trigger is None and accepted.status == "ignored":
        return ActionReport(delivery_id=event.delivery_id, status="ignored", reason=reason)
    # Drain everything ready for this repository, not only this job: with a persistent
    # ENGRAM_HOME (a self-hosted runner), a job left behind by a cancelled workflow
    # finishes here. Other repositories' jobs wait for their own workflows: this job's
    # token is good for this repository only.
    worker = Worker(ctx, repo=event.repository)
    jobs = worker.drain(wait_for_retries=True, deadline_s=deadline_s)
    mine = [ctx.queue.get(accepted.job_id)] if accepted.job_id else []
    seen = {j.id for j in jobs}
    jobs += [j for j in mine if j is not None and j.id not in seen]
    return ActionReport(
        delivery_id=event.delivery_id, status=accepted.status, reason=accepted.reason, jobs=jobs
    )
