"""Workers: claim jobs from the queue, run them under a renewed lease, record the result.

Failure handling:

- transient (GitHub 5xx / rate limit, network, a git fetch that timed out): the job
  goes back to the queue with exponential back-off, until `max_attempts`;
- permanent (anything else: the runner could not run, a push was refused, GitHub said
  403/404/422): the job fails and the issue gets a comment saying what went wrong;
- the worker itself dies (SIGKILL, power): its lease stops being renewed; the job is
  claimed again by the next worker (at once if that worker finds the old process gone
  on the same host), resumes from its saved progress, and once past `max_attempts` is
  reported failed instead of being run again.
- a worker that lost its lease (it stalled longer than the lease) stops touching the job.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable

from bot import report
from bot.context import BotContext, JobHandle, JobResult
from bot.github import GitHubError
from bot.learning import run_pull_closed
from bot.queue import Job, JobState, LeaseLost, worker_identity
from bot.remote import RemoteError
from bot.solve import consume_label, ensure_comment, job_clone_dir, run_solve
from bot.triggers import TriggerKind

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 30.0
BACKOFF_MAX_S = 900.0

Handler = Callable[[Job, JobHandle, BotContext], JobResult]
HANDLERS: dict[TriggerKind, Handler] = {
    TriggerKind.SOLVE: run_solve,
    TriggerKind.PR_CLOSED: run_pull_closed,
}


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, (GitHubError, RemoteError)) and bool(getattr(exc, "transient", False))


class Worker:
    def __init__(
        self,
        ctx: BotContext,
        owner: str | None = None,
        lease_s: float = 120.0,
        poll_s: float = 1.0,
        backoff_base_s: float = BACKOFF_BASE_S,
        repo: str | None = None,
    ):
        self.ctx = ctx
        self.queue = ctx.queue
        self.owner = owner or worker_identity()
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.backoff_base_s = backoff_base_s
        self.repo = repo  # only this repository's jobs (None: all)

    # ------------------------------------------------------------------ loops

    def run_once(self) -> Job | None:
        """Claim and process one ready job; None when there was none."""
        job = self.queue.claim(self.owner, self.lease_s, repo=self.repo)
        if job is None:
            return None
        self.process(job)
        return self.queue.get(job.id)

    def drain(self, wait_for_retries: bool = True, deadline_s: float | None = None) -> list[Job]:
        """Process until no job is left (Actions mode). With `wait_for_retries`, jobs backing
        off after a transient failure are waited for, up to `deadline_s`."""
        done: list[Job] = []
        start = time.monotonic()
        while True:
            job = self.run_once()
            if job is not None:
                done.append(job)
                continue
            waiting = [j for j in self.queue.jobs(JobState.QUEUED) if self.repo in (None, j.repo)]
            if not (wait_for_retries and waiting):
                return done
            pause = max(0.0, min(j.not_before for j in waiting) - time.time())
            if deadline_s is not None and time.monotonic() - start + pause > deadline_s:
                return done
            time.sleep(min(pause, 60.0) + 0.05)

    def serve(self, stop: threading.Event) -> None:
        """Process jobs until `stop` is set (finishing the current one first)."""
        log.info("worker %s polling %s", self.owner, self.queue.path)
        while not stop.is_set():
            try:
                job = self.run_once()
            except Exception:
                log.exception("worker loop error; continuing")
                job = None
            if job is None:
                stop.wait(self.poll_s)

    # ------------------------------------------------------------------ one job

    def process(self, job: Job) -> None:
        lost = threading.Event()
        beat_stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat,
            args=(job.id, lost, beat_stop),
            name=f"lease-{job.id}",
            daemon=True,
        )
        beat.start()
        handle = JobHandle(job, self.queue, self.owner, lost)
        try:
            self._process(job, handle)
        except LeaseLost:
            log.warning("job %s: lease lost to another worker; leaving it alone", job.id)
        finally:
            beat_stop.set()
            beat.join()

    def _heartbeat(self, job_id: int, lost: threading.Event, stop: threading.Event) -> None:
        while not stop.wait(self.lease_s / 3):
            try:
                self.queue.heartbeat(job_id, self.owner, self.lease_s)
            except LeaseLost:
                lost.set()
                return
            except Exception:  # a locked database now and then: try again next beat
                log.exception("job %s: heartbeat failed", job_id)

    def _process(self, job: Job, handle: JobHandle) -> None:
        label = f"job {job.id} ({job.kind.value} {job.repo}#{job.number}, attempt {job.attempts})"
        if job.exhausted:
            error = (
                f"the job was interrupted {job.attempts - 1} time(s) "
                f"(limit {job.max_attempts}); giving up"
            )
            log.error("%s: %s", label, error)
            self._report_failure(job, handle, error)
            self.queue.finish(job.id, self.owner, JobState.FAILED, error=error)
            self._discard_clone(job)
            return
        log.info("%s: started", label)
        try:
            outcome = HANDLERS[job.kind](job, handle, self.ctx)
        except LeaseLost:
            raise
        except Exception as exc:
            public = self.ctx.public_error(exc)
            if is_transient(exc) and job.attempts < job.max_attempts:
                delay = min(BACKOFF_MAX_S, self.backoff_base_s * 2 ** (job.attempts - 1))
                delay = max(delay, getattr(exc, "retry_after_s", None) or 0.0)
                log.warning("%s: transient failure, retrying in %.0fs: %s", label, delay, public)
                self.queue.retry_later(job.id, self.owner, public, delay)
                return
            log.error("%s: failed: %s", label, public, exc_info=exc)
            self._report_failure(job, handle, public)
            self.queue.finish(job.id, self.owner, JobState.FAILED, error=public)
            self._discard_clone(job)
            return
        log.info("%s: %s %s", label, outcome.state.value, outcome.result)
        self.queue.finish(job.id, self.owner, outcome.state, outcome.result, outcome.error)

    def _discard_clone(self, job: Job) -> None:
        # A failed job is not retried, so its clone is only disk space; the error is logged.
        shutil.rmtree(job_clone_dir(self.ctx.home, job.id), ignore_errors=True)

    def _report_failure(self, job: Job, handle: JobHandle, error: str) -> None:
        if job.kind != TriggerKind.SOLVE:
            return  # a failed verdict is for the logs, not for the merged PR's thread
        try:
            gh = self.ctx.github(job.trigger.installation_id)
            ensure_comment(
                gh, handle, report.failure_comment(job.id, error, self.ctx.settings.command)
            )
            consume_label(gh, handle)
        except LeaseLost:
            raise
        except Exception as exc:
            log.error(
                "job %s: could not report the failure on GitHub: %s",
                job.id,
                self.ctx.public_error(exc),
            )
