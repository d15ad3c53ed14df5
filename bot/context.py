"""What a job needs to run (`BotContext`) and what it can do with its own record (`JobHandle`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.config import BotSection
from agent.home import Home
from bot.credentials import Credentials
from bot.github import GitHubClient
from bot.queue import Job, JobQueue, JobState, LeaseLost
from bot.redact import Redactor
from bot.runner import AgentRunner
from bot.verdict import LearnHook


def bot_dir(home: Home) -> Path:
    """The bot's own corner of ENGRAM_HOME: queue, job clones."""
    return home.root / "bot"


def queue_path(home: Home) -> Path:
    return bot_dir(home) / "queue.sqlite"


@dataclass
class BotContext:
    settings: BotSection
    home: Home
    queue: JobQueue
    credentials: Credentials
    api_url: str
    redactor: Redactor
    runner_factory: Callable[[], AgentRunner]
    learn_hook: LearnHook | None = None
    _runner: AgentRunner | None = field(default=None, repr=False)

    def github(self, installation_id: int | None) -> GitHubClient:
        return GitHubClient(self.api_url, lambda: self.credentials.token(installation_id))

    def token_fn(self, installation_id: int | None) -> Callable[[], str]:
        return lambda: self.credentials.token(installation_id)

    def runner(self) -> AgentRunner:
        # Built on first use: PR-closed jobs never need the agent (or its model) loaded.
        if self._runner is None:
            self._runner = self.runner_factory()
        return self._runner

    def public_error(self, exc: BaseException) -> str:
        """An error as it may be shown on GitHub: no secrets, no local paths, bounded."""
        text = (
            f"{type(exc).__name__}: {exc}" if not getattr(exc, "user_facing", False) else str(exc)
        )
        text = self.redactor(text).replace(str(self.home.root), "$ENGRAM_HOME")
        return text if len(text) <= 600 else text[:600] + " …"


@dataclass
class JobResult:
    state: JobState
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class JobHandle:
    """A job's saved progress; `save()` persists it, and fails once the lease is lost."""

    def __init__(self, job: Job, queue: JobQueue, owner: str, lost: threading.Event):
        self.job = job
        self.progress: dict[str, Any] = dict(job.progress)
        self._queue = queue
        self._owner = owner
        self._lost = lost

    def check(self) -> None:
        """Call before every side effect: another worker may own the job now."""
        if self._lost.is_set():
            raise LeaseLost(f"job {self.job.id}: lease lost")

    def save(self, **changes: Any) -> None:
        self.check()
        self.progress.update(changes)
        self._queue.save_progress(self.job.id, self._owner, self.progress)
