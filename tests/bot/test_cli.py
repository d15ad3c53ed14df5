"""`engram bot action` and `engram bot serve` as real processes.

`action` gets what GitHub Actions provides (GITHUB_EVENT_NAME/PATH, GITHUB_REPOSITORY,
GITHUB_API_URL, GITHUB_TOKEN); the agent is ScriptedRunner, the fake runner for testing
the bot's logic (`--runner bot.fake_runner:from_env`).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from agent.home import Home
from agent.types import Trajectory
from bot.context import queue_path
from bot.fake_runner import SCRIPT_ENV
from bot.queue import JobQueue
from bot.webhook import sign
from tests.bot.conftest import REPO

pytestmark = pytest.mark.slow

ENGRAM = str(Path(sys.executable).with_name("engram"))


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGRAM_", "GITHUB_"))}
    env["ENGRAM_HOME"] = str(home)
    return env


def _action(github, home: Path, tmp_path: Path, event: str, payload: dict, script, run: int):
    event_path = tmp_path / f"event-{run}.json"
    event_path.write_text(json.dumps(payload))
    script_path = tmp_path / "script.json"
    script_path.write_text(script.model_dump_json())
    env = _base_env(home) | {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(event_path),
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_API_URL": github.api_url,
        "GITHUB_TOKEN": github.token,
        "GITHUB_RUN_ID": str(run),
        "GITHUB_RUN_ATTEMPT": "1",
        SCRIPT_ENV: str(script_path),
    }
    return subprocess.run(
        [ENGRAM, "bot", "action", "--runner", "bot.fake_runner:from_env"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_action_opens_a_pr_then_learns_from_its_merge(github, isolated_home, tmp_path, script):
    number = github.add_issue(REPO, "add() subtracts", "add(1, 2) == -1")
    labeled = github.labeled_event(REPO, number, "engram", "maintainer")
    first = _action(github, isolated_home, tmp_path, "issues", labeled, script, run=1)
    assert first.returncode == 0, first.stderr
    [pull] = github.repos[REPO].pulls.values()
    assert pull.draft and f"/{REPO}/pull/{pull.number}" in first.stdout
    assert github.token not in first.stdout + first.stderr

    merged = github.merge_pull(REPO, pull.number)
    second = _action(github, isolated_home, tmp_path, "pull_request", merged, script, run=2)
    assert second.returncode == 0, second.stderr
    [job] = [j for j in JobQueue(queue_path(Home(isolated_home))).jobs() if j.kind == "pr_closed"]
    trajectory = Trajectory.model_validate_json(Path(job.result["trajectory_path"]).read_text())
    assert trajectory.verified_by == "human-merge" and trajectory.eligible_for_learning


def test_action_ignores_irrelevant_events(github, isolated_home, tmp_path, script):
    number = github.add_issue(REPO, "bug", "details")
    payload = github.comment_event(REPO, number, "thanks!", "someone", "NONE")
    result = _action(github, isolated_home, tmp_path, "issue_comment", payload, script, run=1)
    assert result.returncode == 0 and "ignored" in result.stdout
    assert github.repos[REPO].pulls == {}


def test_action_outside_actions_says_what_to_do(isolated_home):
    result = subprocess.run(
        [ENGRAM, "bot", "action"], env=_base_env(isolated_home), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "engram bot serve" in result.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_queues_a_signed_delivery_and_keeps_the_secret_out_of_its_logs(
    github, isolated_home, tmp_path
):
    secret = "serve-secret-" + uuid.uuid4().hex
    port = _free_port()
    log = tmp_path / "serve.log"
    env = _base_env(isolated_home) | {"ENGRAM_WEBHOOK_SECRET": secret}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ENGRAM, "bot", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.1)
        number = github.add_issue(REPO, "bug", "details")
        body = json.dumps(github.labeled_event(REPO, number, "engram", "maintainer")).encode()
        headers = {
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(secret.encode(), body),
        }
        assert httpx.post(f"{url}/webhook", content=body, headers=headers).status_code == 202
        bad = {**headers, "X-Hub-Signature-256": sign(b"wrong-secret-value", body)}
        assert httpx.post(f"{url}/webhook", content=body, headers=bad).status_code == 401
    finally:
        proc.terminate()
        proc.wait(15)
    assert JobQueue(queue_path(Home(isolated_home))).counts()["queued"] == 1
    assert secret not in log.read_text()


def test_serve_refuses_to_start_without_a_secret(isolated_home):
    result = subprocess.run(
        [ENGRAM, "bot", "serve"],
        env=_base_env(isolated_home),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and "ENGRAM_WEBHOOK_SECRET" in result.stderr


def test_status_lists_jobs(github, isolated_home, tmp_path, script):
    number = github.add_issue(REPO, "bug", "details")
    labeled = github.labeled_event(REPO, number, "engram", "maintainer")
    _action(github, isolated_home, tmp_path, "issues", labeled, script, run=1)
    out = subprocess.run(
        [ENGRAM, "bot", "status", "--json"],
        env=_base_env(isolated_home),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    assert data["counts"]["done"] == 1 and data["jobs"][0]["result"]["pull_number"]


def test_worker_without_an_agent_runner_fails_at_start_up(isolated_home):
    env = _base_env(isolated_home) | {"ENGRAM_GITHUB_TOKEN": "ghp_dummy_value_123"}
    result = subprocess.run(
        [ENGRAM, "bot", "worker", "--once", "--runner", "no.such.module:factory"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "cannot load the agent runner" in result.stderr
