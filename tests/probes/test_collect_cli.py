"""`engram probes collect`: the agent on ledger tasks, each run's features and labels
stored in the model's feature dataset, and the summary a larger collection is sized by."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli.probes_collect_cmd import collection_summary
from bench.results import TaskResult, TaskStatus, Timings

ENGRAM = str(Path(sys.executable).with_name("engram"))
TASKS = Path(__file__).resolve().parents[2] / "bench" / "data" / "ledger.jsonl"


def _result(i: int, status: TaskStatus, extras: dict, steps: int = 5) -> TaskResult:
    return TaskResult(instance_id=f"t{i}", cell="resolve", status=status, seed=0, steps=steps,
                      extras=extras, timings=Timings(model_s=10.0, monitor_s=0.01))  # fmt: skip


def test_the_summary_counts_labels_and_rates():
    results = [
        _result(1, TaskStatus.RESOLVED,
                {"probe_rows": 6, "probe_hallucinated": 0, "probe_clean": 6}),
        _result(2, TaskStatus.UNRESOLVED,
                {"probe_rows": 4, "probe_hallucinated": 2, "probe_clean": 0, "probe_missing": 1}),
        _result(3, TaskStatus.HARNESS_ERROR, {}),
    ]  # fmt: skip
    s = collection_summary(results, wall_s=1800.0)
    assert (s["tasks"], s["verified"], s["harness_failures"]) == (3, 1, 1)
    assert (s["rows"], s["hallucinated"], s["clean"], s["unknown"]) == (10, 2, 6, 2)
    assert s["missing_features"] == 1
    assert s["rows_per_hour"] == pytest.approx(20.0)
    assert s["labelled_per_hour"] == pytest.approx(16.0)
    assert s["model_s"] == pytest.approx(30.0)


@pytest.mark.model
@pytest.mark.docker
@pytest.mark.slow
def test_collect_runs_a_task_and_stores_its_labelled_features(embedded_model_dir, sandbox_image):
    from agent.home import Home
    from probes.dataset import Dataset
    from probes.store import ProbeStore

    home = Home.resolve()
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home.root)
    prepared = subprocess.run([ENGRAM, "bench", "prepare", str(TASKS)], env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    cmd = [ENGRAM, "probes", "collect", "--tasks", str(TASKS), "--limit", "1", "--backend",
           "llamacpp", "--threads", "1", "--max-steps", "2", "--name", "c1"]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "steps with features" in proc.stdout
    summary = json.loads((home.bench / "c1" / "collect.json").read_text())
    assert summary["tasks"] == 1 and summary["harness_failures"] == 0
    assert summary["rows"] >= 1 and summary["rows_per_hour"] > 0
    dataset = Dataset.load(ProbeStore.for_home(home).data_dir("Qwen/Qwen2.5-Coder-0.5B-Instruct"))
    assert summary["dataset"] == dataset.counts()
    assert dataset.counts()["steps"] == summary["rows"]
    assert dataset.layer == 16  # two thirds of 24 layers
    manifest = json.loads((home.bench / "c1" / "run.json").read_text())
    assert manifest["split"] == "train" and manifest["options"]["collect_probes"] is True
