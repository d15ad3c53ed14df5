"""The durable job queue: one SQLite file under ENGRAM_HOME, in WAL mode.

Guarantees:

- `accept` records the delivery id and the job in one transaction that is on disk
  (`synchronous=FULL`) before the webhook is acknowledged: an acknowledged job survives
  any crash. A delivery id is accepted once; a replay is reported as such.
- At most one *active* (queued or running) solve job per issue: a partial unique index
  enforces it, so a second trigger while one is active is coalesced into it.
- Workers claim jobs under a lease they renew while working. A job whose worker died
  (lease expired, or its process on this host is gone) is claimed again; each claim
  counts as an attempt, and a job past `max_attempts` is handed out once more only so
  the worker can report it failed. A job is never lost, and never run by two workers
  at once (claims are serialised by `BEGIN IMMEDIATE`).
- Progress (what a job already did: run, push, PR, comment) is saved as it happens,
  so a retried job resumes instead of repeating side effects.

Not guaranteed: exactly-once side effects on GitHub. The job itself provides
idempotence by looking for what it made (PR from its branch, comment with its marker).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent.types import Model
from bot.triggers import Trigger, TriggerKind

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY,
    event TEXT NOT NULL,
    received_at REAL NOT NULL,
    outcome TEXT NOT NULL,
    job_id INTEGER
);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    not_before REAL NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until REAL,
    delivery_id TEXT,
    progress TEXT NOT NULL DEFAULT '{}',
    result TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_solve_per_issue
    ON jobs(repo, number) WHERE kind = 'solve' AND state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs(state, not_before, id);
CREATE INDEX IF NOT EXISTS jobs_by_issue ON jobs(repo, number);
"""


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


ACTIVE = (JobState.QUEUED, JobState.RUNNING)


class Job(Model):
    id: int
    kind: TriggerKind
    repo: str
    number: int
    trigger: Trigger
    state: JobState
    attempts: int
    max_attempts: int
    not_before: float = 0.0
    lease_owner: str | None = None
    lease_until: float | None = None
    delivery_id: str | None = None
    progress: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: float
    updated_at: float

    @property
    def exhausted(self) -> bool:
        return self.attempts > self.max_attempts


class Accepted(Model):
    status: Literal["queued", "coalesced", "ignored", "duplicate"]
    job_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    event: str
    trigger: Trigger | None
    reason: str = ""


class QueueError(RuntimeError):
    user_facing = True


class LeaseLost(RuntimeError):
    """Another worker owns this job now (our lease expired); stop touching it."""


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobQueue:
    """Thread-safe: one connection, one lock. Each process opens its own JobQueue."""

    def __init__(self, path: Path, max_attempts: int = 3):
        self.path = path
        self.max_attempts = max_attempts
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is fsynced before it returns, so an acknowledged delivery is on disk.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._tx() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise QueueError(
                    f"{path} was written by a newer engram (schema {version}); upgrade engram"
                )
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ------------------------------------------------------------------ intake

    def accept(
        self, delivery_id: str, event: str, trigger: Trigger | None, reason: str = ""
    ) -> Accepted:
        """Record a delivery and, for a trigger, queue its job — atomically."""
        return self.accept_batch([Delivery(delivery_id, event, trigger, reason)])[0]

    def accept_batch(self, deliveries: Sequence[Delivery]) -> list[Accepted]:
        """`accept` for several deliveries in one transaction: one fsync for all of them
        (group commit). Each is decided as if accepted alone, in order."""
        now = time.time()
        with self._tx() as db:
            return [self._accept_one(db, d, now) for d in deliveries]

    def _accept_one(self, db: sqlite3.Connection, d: Delivery, now: float) -> Accepted:
        seen = db.execute(
            "SELECT outcome, job_id FROM deliveries WHERE delivery_id = ?", (d.delivery_id,)
        ).fetchone()
        if seen is not None:
            return Accepted(
                status="duplicate",
                job_id=seen["job_id"],
                reason=f"delivery already {seen['outcome']}",
            )
        if d.trigger is None:
            db.execute(
                "INSERT INTO deliveries VALUES (?, ?, ?, 'ignored', NULL)",
                (d.delivery_id, d.event, now),
            )
            return Accepted(status="ignored", reason=d.reason)
        trigger, reason = d.trigger, d.reason
        cursor = db.execute(
            "INSERT INTO jobs (kind, repo, number, trigger, state, max_attempts, "
            "delivery_id, created_at, updated_at) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            (
                trigger.kind.value,
                trigger.repo,
                trigger.number,
                trigger.model_dump_json(),
                self.max_attempts,
                d.delivery_id,
                now,
                now,
            ),
        )
        if cursor.rowcount == 1:
            job_id, status = cursor.lastrowid, "queued"
        else:
            row = db.execute(
                "SELECT id FROM jobs WHERE repo = ? AND number = ? AND kind = 'solve' "
                "AND state IN ('queued', 'running')",
                (trigger.repo, trigger.number),
            ).fetchone()
            job_id, status = row["id"], "coalesced"
            reason = reason or f"job {job_id} for this issue is already active"
        db.execute(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?, ?)",
            (d.delivery_id, d.event, now, status, job_id),
        )
        return Accepted(status=status, job_id=job_id, reason=reason)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ workers

    def claim(self, owner: str, lease_s: float, repo: str | None = None) -> Job | None:
        """Take the oldest ready job (queued, or running with an expired lease), of `repo`
        only when given (an Actions job's token is good for its own repository only)."""
        now = time.time()
        with self._tx() as db:
            self._requeue_dead_local(db, now)
            row = db.execute(
                "SELECT id FROM jobs WHERE ((state = 'queued' AND not_before <= ?) "
                "OR (state = 'running' AND lease_until < ?)) AND (? IS NULL OR repo = ?) "
                "ORDER BY id LIMIT 1",
                (now, now, repo, repo),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?, "
                "lease_until = ?, updated_at = ? WHERE id = ?",
                (owner, now + lease_s, now, row["id"]),
            )
            return self._get(db, row["id"])

    def _requeue_dead_local(self, db: sqlite3.Connection, now: float) -> None:
        # A worker on this host that no longer exists cannot renew its lease: hand its
        # jobs out now instead of waiting for the lease to run out.
        host = socket.gethostname()
        for row in db.execute(
            "SELECT id, lease_owner FROM jobs WHERE state = 'running' AND lease_until >= ?", (now,)
        ).fetchall():
            parts = (row["lease_owner"] or "").split(":")
            mine = len(parts) >= 2 and parts[0] == host and parts[1].isdigit()
            if mine and not _pid_alive(int(parts[1])):
                db.execute("UPDATE jobs SET lease_until = 0 WHERE id = ?", (row["id"],))

    def heartbeat(self, job_id: int, owner: str, lease_s: float) -> None:
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET lease_until = ?, updated_at = ? WHERE id = ? AND lease_owner = ? "
                "AND state = 'running'",
                (now + lease_s, now, job_id, owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased to {owner}")

    def save_progress(self, job_id: int, owner: str, progress: dict[str, Any]) -> None:
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ? AND lease_owner = ? "
                "AND state = 'running'",
                (json.dumps(progress, default=str), time.time(), job_id, owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased to {owner}")

    def finish(
        self,
        job_id: int,
        owner: str,
        state: JobState,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        assert state not in ACTIVE
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = ?, result = ?, error = ?, lease_owner = NULL, "
                "lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? "
                "AND state = 'running'",
                (
                    state.value,
                    json.dumps(result, default=str) if result is not None else None,
                    error,
                    time.time(),
                    job_id,
                    owner,
                ),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased to {owner}")

    def retry_later(self, job_id: int, owner: str, error: str, delay_s: float) -> None:
        """Give the job back for another attempt after `delay_s` (a transient failure)."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state = 'queued', error = ?, not_before = ?, lease_owner = NULL, "
                "lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? "
                "AND state = 'running'",
                (error, now + delay_s, now, job_id, owner),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"job {job_id} is no longer leased to {owner}")

    # ------------------------------------------------------------------ reading

    def _get(self, db: sqlite3.Connection, job_id: int) -> Job | None:
        row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def get(self, job_id: int) -> Job | None:
        with self._lock:
            return self._get(self._db, job_id)

    def jobs(self, state: JobState | None = None, limit: int = 1000) -> list[Job]:
        with self._lock:
            if state is None:
                rows = self._db.execute("SELECT * FROM jobs ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = self._db.execute(
                    "SELECT * FROM jobs WHERE state = ? ORDER BY id DESC LIMIT ?",
                    (state.value, limit),
                )
            return [_job(r) for r in rows.fetchall()]

    def counts(self) -> dict[str, int]:
        with self._lock:
            jobs = dict(self._db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
            deliveries = self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0]
        return {**{s.value: jobs.get(s.value, 0) for s in JobState}, "deliveries": deliveries}

    def job_for_pull(self, repo: str, pull_number: int) -> Job | None:
        """The solve job that opened pull request `pull_number` (from its saved progress)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE kind = 'solve' AND repo = ? "
                "AND json_extract(progress, '$.pull_number') = ? ORDER BY id DESC",
                (repo, pull_number),
            ).fetchall()
        return _job(rows[0]) if rows else None

    def prune_deliveries(self, older_than_s: float) -> int:
        """Forget delivery ids older than this (replay protection needs only recent ones)."""
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM deliveries WHERE received_at < ?", (time.time() - older_than_s,)
            )
            return cur.rowcount


def _job(row: sqlite3.Row) -> Job:
    data = dict(row)
    data["trigger"] = Trigger.model_validate_json(data["trigger"])
    data["progress"] = json.loads(data["progress"] or "{}")
    data["result"] = json.loads(data["result"]) if data["result"] else None
    return Job.model_validate(data)
