"""Durability: `engram bot worker` processes are SIGKILLed mid-job and restarted. The job
completes (or is reported failed) — never lost, never run twice to two PRs.

The agent is ScriptedRunner (`--runner bot.fake_runner:from_env`), a fake runner for
testing the bot's logic: its delay lets the test kill the worker while "the agent" runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.home import Home
from bot.context import queue_path
from bot.fake_runner import SCRIPT_ENV, RunScript
from bot.queue import JobQueue, JobState
from bot.triggers import decide
from tests.bot.conftest import FIXED, REPO, passing_verification

pytestmark = pytest.mark.slow

ENGRAM = str(Path(sys.executable).with_name("engram"))


class WorkerProcess:
    def __init__(self, github, home: Path, script_file: Path, log: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGRAM_", "GITHUB_"))}
        env.update(
            {
                "ENGRAM_HOME": str(home),
                "ENGRAM_GITHUB_TOKEN": github.token,
                "ENGRAM_BOT__API_URL": github.api_url,
                SCRIPT_ENV: str(script_file),
            }
        )
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    ENGRAM,
                    "bot",
                    "worker",
                    "--runner",
                    "bot.fake_runner:from_env",
                    "--lease",
                    "3",
                    "--poll",
                    "0.1",
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


def wait_for(predicate, worker: WorkerProcess, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker.proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = worker.log.read_text()[-3000:] if worker.log.exists() else ""
    raise AssertionError(f"no {what} (worker exit code {worker.proc.poll()})\n{tail}")


@pytest.fixture
def setup(github, isolated_home, tmp_path):
    def make(max_attempts: int = 3):
        home = Home(isolated_home)
        queue = JobQueue(queue_path(home), max_attempts=max_attempts)
        number = github.add_issue(REPO, "add() subtracts", "add(1, 2) == -1")
        payload = github.labeled_event(REPO, number, "engram", "maintainer")
        queue.accept("delivery-1", "issues", decide("issues", payload, _settings()))
        return queue, number

    return make


def _settings():
    from agent.config import BotSection

    return BotSection()


def _script(path: Path, marker: Path, delay_s: float) -> Path:
    script = RunScript(
        edits={"widgets/core.py": FIXED},
        verification=passing_verification(),
        delay_s=delay_s,
        started_marker=marker,
    )
    path.write_text(script.model_dump_json())
    return path


def test_worker_killed_while_the_agent_runs(github, setup, isolated_home, tmp_path):
    queue, number = setup()
    marker = tmp_path / "started"
    script = _script(tmp_path / "script.json", marker, delay_s=60)
    first = WorkerProcess(github, isolated_home, script, tmp_path / "w1.log")
    wait_for(marker.exists, first, "agent start")
    first.kill()
    [job] = queue.jobs()
    assert job.state == JobState.RUNNING and github.repos[REPO].pulls == {}

    _script(script, marker, delay_s=0)  # the next run is quick
    second = WorkerProcess(github, isolated_home, script, tmp_path / "w2.log")
    try:
        done = wait_for(
            lambda: (j := queue.get(job.id)).state != JobState.RUNNING and j, second, "job end"
        )
    finally:
        assert second.stop() == 0  # SIGTERM: finishes cleanly
    assert done.state == JobState.DONE, (tmp_path / "w2.log").read_text()
    assert done.attempts == 2
    assert len(github.repos[REPO].pulls) == 1
    assert len(github.repos[REPO].issues[number].comments) == 1


def test_worker_killed_after_opening_the_pr_but_before_hearing_back(
    github, setup, isolated_home, tmp_path
):
    queue, number = setup()
    script = _script(tmp_path / "script.json", tmp_path / "started", delay_s=0)
    github.pull_create_hold_s = 30.0  # the PR exists; the response is held back
    first = WorkerProcess(github, isolated_home, script, tmp_path / "w1.log")
    assert github.pull_created.wait(60), (tmp_path / "w1.log").read_text()
    first.kill()
    assert len(github.repos[REPO].pulls) == 1
    github.pull_create_hold_s = 0.0

    second = WorkerProcess(github, isolated_home, script, tmp_path / "w2.log")
    try:
        done = wait_for(
            lambda: (j := queue.jobs()[0]).state != JobState.RUNNING and j, second, "job end"
        )
    finally:
        second.stop()
    assert done.state == JobState.DONE, (tmp_path / "w2.log").read_text()
    assert len(github.repos[REPO].pulls) == 1  # found by its branch, not opened again
    assert len(github.calls("POST", r"/pulls$")) == 1
    assert len(github.repos[REPO].issues[number].comments) == 1
    assert marker_runs(tmp_path) <= 1


def marker_runs(tmp_path: Path) -> int:
    return 1 if (tmp_path / "started").exists() else 0


def test_job_out_of_attempts_is_reported_failed_not_rerun(github, setup, isolated_home, tmp_path):
    queue, number = setup(max_attempts=1)
    marker = tmp_path / "started"
    script = _script(tmp_path / "script.json", marker, delay_s=60)
    first = WorkerProcess(github, isolated_home, script, tmp_path / "w1.log")
    run_id = wait_for(lambda: marker.exists() and marker.read_text(), first, "agent start")
    first.kill()

    second = WorkerProcess(github, isolated_home, script, tmp_path / "w2.log")
    try:
        done = wait_for(
            lambda: (j := queue.jobs()[0]).state != JobState.RUNNING and j, second, "job end"
        )
    finally:
        second.stop()
    assert done.state == JobState.FAILED and "interrupted" in done.error
    assert marker.read_text() == run_id  # the agent did not run again
    assert github.repos[REPO].pulls == {}
    [comment] = github.repos[REPO].issues[number].comments
    assert "could not finish" in comment["body"]
    for log in tmp_path.glob("w*.log"):
        assert github.token not in log.read_text()
