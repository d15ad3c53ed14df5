"""A two-task real run: `engram bench run` on the bundled ledger tasks with the embedded
model and the Docker sandbox, a tiny step limit so it stays a few minutes.

Asserts that both tasks complete with a stored result, a grade and the run's bookkeeping
(manifest, report) — not that the small model resolves them (how often it does is what
the benchmark itself measures).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.home import Home
from bench.results import TaskStatus, load_manifest

pytestmark = [pytest.mark.model, pytest.mark.docker, pytest.mark.slow]
ENGRAM = str(Path(sys.executable).with_name("engram"))
TASKS = Path(__file__).resolve().parents[2] / "bench" / "data" / "ledger.jsonl"


def test_two_ledger_tasks_run_and_are_graded(embedded_model_dir, sandbox_image):
    home = Home.resolve()
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home.root)
    prepared = subprocess.run([ENGRAM, "bench", "prepare", str(TASKS)], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    cmd = [ENGRAM, "bench", "run", "--tasks", str(TASKS), "--split", "test", "--limit", "2",
           "--sandbox", "docker", "--backend", "hf", "--threads", "1", "--max-steps", "2", "--max-resamples", "1",
           "--max-new-tokens", "160", "--name", "real", "--seed", "0"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    run_dir = home.bench / "real"
    manifest = load_manifest(run_dir)
    assert len(manifest.task_ids) == 2 and manifest.task_set_hash
    results = [json.loads(p.read_text()) for p in sorted((run_dir / "tasks").glob("*.json"))]
    assert sorted(r["instance_id"] for r in results) == sorted(manifest.task_ids)
    for result in results:
        # Completed by the model, not lost to the harness; graded in its own sandbox.
        assert result["status"] in {TaskStatus.RESOLVED, TaskStatus.UNRESOLVED}, result["error"]
        assert result["model_id"] == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
        assert result["backend"] == "hf" and result["model_steps"] >= 1
        assert result["completion_tokens"] > 0 and result["timings"]["model_s"] > 0
        grade = result["grade"]
        assert grade is not None and grade["error"] is None
        assert grade["resolved"] == (result["status"] == TaskStatus.RESOLVED)
        if grade["patch_status"] in {"applied", "applied_with_fuzz"}:
            assert set(grade["fail_to_pass"]) and grade["command"]
    assert not list((run_dir / "inflight").glob("*.json"))
    report = json.loads((run_dir / "report" / "report.json").read_text())
    assert report["tracks"]["resolve"]
    assert "engram bench run" in (run_dir / "report" / "report.md").read_text()
