"""The durable queue: dedupe, one active job per issue, exclusive claims, leases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from bot.queue import JobQueue, JobState, LeaseLost
from bot.triggers import Trigger, TriggerKind


def trig(number: int = 1, kind: TriggerKind = TriggerKind.SOLVE) -> Trigger:
    via = "label" if kind == TriggerKind.SOLVE else "pull_request"
    return Trigger(kind=kind, repo="acme/widgets", number=number, via=via, requested_by="m")


@pytest.fixture
def queue(tmp_path) -> JobQueue:
    return JobQueue(tmp_path / "q.sqlite", max_attempts=2)


def test_queue_is_wal_and_fsyncs(queue):
    assert queue._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert queue._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_delivery_is_accepted_once(queue):
    first = queue.accept("d1", "issues", trig())
    assert first.status == "queued" and first.job_id
    again = queue.accept("d1", "issues", trig())
    assert again.status == "duplicate" and again.job_id == first.job_id
    assert queue.counts()["queued"] == 1


def test_ignored_deliveries_are_remembered_but_queue_nothing(queue):
    assert queue.accept("d1", "issues", None, "other label").status == "ignored"
    assert queue.accept("d1", "issues", None).status == "duplicate"
    assert queue.counts() == {**queue.counts(), "queued": 0, "deliveries": 1}


def test_one_active_solve_job_per_issue(queue):
    first = queue.accept("d1", "issues", trig(7))
    second = queue.accept("d2", "issue_comment", trig(7))
    assert second.status == "coalesced" and second.job_id == first.job_id
    other_issue = queue.accept("d3", "issues", trig(8))
    assert other_issue.status == "queued"
    closed = queue.accept("d4", "pull_request", trig(7, TriggerKind.PR_CLOSED))
    assert closed.status == "queued"  # PR verdicts are not issue work

    job = queue.claim("w1", 60)
    assert job.id == first.job_id
    assert queue.accept("d5", "issues", trig(7)).status == "coalesced"  # still running
    queue.finish(job.id, "w1", JobState.DONE, {"ok": True})
    assert queue.accept("d6", "issues", trig(7)).status == "queued"  # a new job after it ended


def test_claims_are_exclusive_across_connections(tmp_path):
    path = tmp_path / "q.sqlite"
    seed = JobQueue(path)
    for n in range(60):
        seed.accept(f"d{n}", "issues", trig(n))
    claimed: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        q = JobQueue(path)
        while (job := q.claim(name, 60)) is not None:
            with lock:
                claimed.append(job.id)
            q.finish(job.id, name, JobState.DONE)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(set(claimed)) and len(claimed) == 60
    assert seed.counts()["done"] == 60


def test_expired_lease_is_claimed_again_and_the_old_owner_is_fenced(queue):
    queue.accept("d1", "issues", trig())
    job = queue.claim("w1", lease_s=0.05)
    assert queue.claim("w2", 60) is None  # leased
    time.sleep(0.1)
    again = queue.claim("w2", 60)
    assert again.id == job.id and again.attempts == 2
    with pytest.raises(LeaseLost):
        queue.save_progress(job.id, "w1", {"x": 1})
    with pytest.raises(LeaseLost):
        queue.finish(job.id, "w1", JobState.DONE)
    queue.save_progress(job.id, "w2", {"x": 2})
    assert queue.get(job.id).progress == {"x": 2}


def test_job_of_a_dead_local_worker_is_claimed_at_once(queue):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that is certainly gone
    import socket

    queue.accept("d1", "issues", trig())
    queue.claim(f"{socket.gethostname()}:{proc.pid}:1", lease_s=3600)
    job = queue.claim("w2", 60)
    assert job is not None and job.attempts == 2


def test_attempts_past_the_limit_mark_the_job_exhausted(queue):
    queue.accept("d1", "issues", trig())
    for expected in (1, 2, 3):
        job = queue.claim("w", lease_s=0.0)
        assert job.attempts == expected
        time.sleep(0.01)
    assert job.exhausted  # max_attempts=2: the third claim is only for reporting


def test_retry_later_waits(queue):
    queue.accept("d1", "issues", trig())
    job = queue.claim("w", 60)
    queue.retry_later(job.id, "w", "HTTP 502", delay_s=0.2)
    assert queue.claim("w", 60) is None
    time.sleep(0.25)
    again = queue.claim("w", 60)
    assert again.id == job.id and again.error == "HTTP 502"


def test_job_for_pull_finds_the_solve_job(queue):
    queue.accept("d1", "issues", trig(3))
    job = queue.claim("w", 60)
    queue.save_progress(job.id, "w", {"pull_number": 12, "outcome": {}})
    assert queue.job_for_pull("acme/widgets", 12).id == job.id
    assert queue.job_for_pull("acme/widgets", 13) is None


ACCEPT_THEN_DIE = """
import os, signal, sys
from bot.queue import JobQueue
from bot.triggers import Trigger
q = JobQueue(__import__("pathlib").Path(sys.argv[1]))
r = q.accept("d-kill", "issues", Trigger(kind="solve", repo="a/b", number=1, via="label",
             requested_by="m"))
print(r.status, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # no clean close, no checkpoint
"""


def test_accepted_job_survives_sigkill_right_after_acknowledgement(tmp_path):
    path = tmp_path / "q.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", ACCEPT_THEN_DIE, str(path)],
        capture_output=True,
        text=True,
        cwd=os.getcwd(),
    )
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.strip() == "queued"
    reopened = JobQueue(path)
    assert reopened.counts()["queued"] == 1 and reopened.counts()["deliveries"] == 1


def test_claim_can_be_limited_to_one_repository(queue):
    queue.accept(
        "d1",
        "issues",
        Trigger(kind="solve", repo="other/repo", number=1, via="label", requested_by="m"),
    )
    queue.accept("d2", "issues", trig(2))
    job = queue.claim("w", 60, repo="acme/widgets")
    assert job.repo == "acme/widgets"
    assert queue.claim("w", 60, repo="acme/widgets") is None
    assert queue.claim("w", 60).repo == "other/repo"
