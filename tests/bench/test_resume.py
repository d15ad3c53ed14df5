"""A real `engram bench run` killed with SIGKILL mid-task resumes: finished tasks are kept
as they were, the task in flight is redone, and the run completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.home import Home
from bench.results import load_manifest
from tests.bench.taskset import make_tasks, task_file

pytestmark = pytest.mark.slow
ENGRAM = str(Path(sys.executable).with_name("engram"))


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home)
    return env


def test_a_killed_run_resumes_where_it_stopped(stats_repo, tmp_path):
    home = Home.resolve()
    tasks = make_tasks(stats_repo, home, ["mean", "running", "window"])
    path = task_file(tmp_path / "tasks.jsonl", tasks)
    run_dir = home.bench / "killed"
    cmd = [ENGRAM, "bench", "run", "--tasks", str(path), "--oracle", "--sandbox", "local",
           "--max-steps", "4", "--name", "killed", "--no-report"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=_env(home.root), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    in_flight = None
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            done = {p.stem for p in (run_dir / "tasks").glob("*.json")}
            flying = [p for p in (run_dir / "inflight").glob("*.json") if p.stem not in done]
            if done and flying:
                os.kill(proc.pid, signal.SIGKILL)
                in_flight = flying[0].stem
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert in_flight is not None, "the run ended before it could be killed mid-task"
    assert proc.returncode == -signal.SIGKILL
    finished = {p.stem: p.read_text() for p in (run_dir / "tasks").glob("*.json")}
    assert in_flight not in finished
    marker = json.loads((run_dir / "inflight" / f"{in_flight}.json").read_text())

    resumed = subprocess.run([ENGRAM, "bench", "run", "--resume", "killed"], env=_env(home.root),
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "was in flight" in resumed.stdout
    results = {p.stem: json.loads(p.read_text()) for p in (run_dir / "tasks").glob("*.json")}
    assert set(results) == {t.instance_id for t in tasks}
    assert all(r["status"] == "resolved" for r in results.values())
    for instance_id, text in finished.items():  # finished tasks were not run again
        assert (run_dir / "tasks" / f"{instance_id}.json").read_text() == text
    if "run_id" in marker:  # the half-done agent run was dropped, not continued
        assert results[in_flight]["run_id"] != marker["run_id"]
        assert not (home.worktrees / marker["run_id"]).exists()
    assert not list((run_dir / "inflight").glob("*.json"))
    assert len(load_manifest(run_dir).resumed) == 1
    assert (run_dir / "report" / "report.md").is_file()


def test_sigterm_stops_the_run_cleanly_and_it_resumes(stats_repo, tmp_path):
    home = Home.resolve()
    tasks = make_tasks(stats_repo, home, ["mean", "running"])
    path = task_file(tmp_path / "tasks.jsonl", tasks)
    run_dir = home.bench / "termed"
    cmd = [ENGRAM, "bench", "run", "--tasks", str(path), "--oracle", "--sandbox", "local",
           "--max-steps", "4", "--name", "termed", "--no-report"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=_env(home.root), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((run_dir / "inflight").glob("*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=240)
    # Stopped like Ctrl-C (not killed): the runs in flight end at their next node, closing
    # their sandboxes; the run says how to go on.
    assert proc.returncode == 130, output
    assert "--resume" in output
    unfinished = {p.stem for p in (run_dir / "inflight").glob("*.json")}
    unfinished -= {p.stem for p in (run_dir / "tasks").glob("*.json")}
    assert unfinished
    resumed = subprocess.run([ENGRAM, "bench", "run", "--resume", "termed", "--no-report"],
                             env=_env(home.root), capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    results = [json.loads(p.read_text()) for p in (run_dir / "tasks").glob("*.json")]
    assert sorted(r["status"] for r in results) == ["resolved", "resolved"]
    assert not [p for p in home.worktrees.glob("*") if p.is_dir()]  # the stopped run's too


def test_a_resumed_run_keeps_its_settings(tmp_path):
    home = Home.resolve()
    proc = subprocess.run([ENGRAM, "bench", "run", "--resume", "nothing", "--tasks", "x.jsonl"],
                          env=_env(home.root), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "keeps its own tasks" in proc.stderr
