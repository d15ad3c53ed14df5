"""`engram bench report RUN` renders a resolve run from its stored results alone: harness
failures kept out of the resolved rate, the Wilson interval, the command that made it,
the plots — and a run with tasks still to do says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_config
from agent.home import Home
from bench.results import ResultStore, TaskResult, TaskStatus, Timings
from bench.session import start_session
from bench.stats import wilson
from tests.bench.taskset import make_tasks, task_file

ENGRAM = str(Path(sys.executable).with_name("engram"))


def _result(instance_id: str, status: TaskStatus, **extra) -> TaskResult:
    graded = status.graded
    grade = {"instance_id": instance_id, "resolved": status == TaskStatus.RESOLVED,
             "patch_status": "applied"} if graded else None  # fmt: skip
    return TaskResult(
        instance_id=instance_id, cell="resolve", status=status, seed=1,
        exit_status="submitted" if graded else None, steps=4, model_steps=3,
        format_errors=1 if status == TaskStatus.UNRESOLVED else 0, grade=grade,
        timings=Timings(setup_s=0.5, agent_s=8.0, model_s=6.0, tools_s=1.0, grading_s=2.0,
                        total_s=10.5), model_id="m", **extra,
    )  # fmt: skip


@pytest.fixture
def stored_run(stats_repo, tmp_path):
    home = Home.resolve()
    home.ensure()
    tasks = make_tasks(stats_repo, home, ["mean", "sorted", "clamp", "running", "window"])
    config = load_config(flags={"sandbox.kind": "local"}).config
    command = ["engram", "bench", "run", "--tasks", "t.jsonl", "--name", "stored"]
    session = start_session(home, task_file(tmp_path / "t.jsonl", tasks), config,
                            tracks=["resolve"], name="stored", command=command)  # fmt: skip
    ids = sorted(session.manifest.task_ids)
    store = ResultStore(session.run_dir, "resolve")
    store.write(_result(ids[0], TaskStatus.RESOLVED))
    store.write(_result(ids[1], TaskStatus.RESOLVED))
    store.write(_result(ids[2], TaskStatus.UNRESOLVED))
    store.write(_result(ids[3], TaskStatus.HARNESS_ERROR, phase="grading", error="no engine"))
    # ids[4] has no result yet: the run is unfinished.
    return home, session.run_dir, ids


def test_the_report_is_rendered_from_the_stored_results(stored_run):
    home, run_dir, ids = stored_run
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home.root)
    proc = subprocess.run([ENGRAM, "bench", "report", "stored"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((run_dir / "report" / "report.json").read_text())
    cell = data["tracks"]["resolve"]["cell"]
    # 2 of 3 graded: the harness error is not counted against the model.
    assert (cell["resolved"]["k"], cell["resolved"]["n"]) == (2, 3)
    assert (cell["resolved"]["low"], cell["resolved"]["high"]) == pytest.approx(wilson(2, 3))
    assert cell["harness_errors"] == 1 and cell["harness_by_phase"] == {"grading": 1}
    assert cell["resolved_ids"] == ids[:2]
    failures = data["tracks"]["resolve"]["harness_failures"]
    assert [f["instance_id"] for f in failures] == [ids[3]]
    text = (run_dir / "report" / "report.md").read_text()
    assert "engram bench run --tasks t.jsonl --name stored" in text
    assert "Harness failures" in text and "no engine" in text
    assert "4 of 5 selected tasks have results" in text  # an unfinished run says so
    assert (run_dir / "report" / "resolve_rates.png").read_bytes()[:4] == b"\x89PNG"
    assert "## resolve" in proc.stdout  # the Markdown is printed too
