"""`engram probes train|eval|show` as real processes over a synthetic dataset in
ENGRAM_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.types import ExitStatus
from probes.store import ProbeStore
from tests.probes.synthetic import DIM, write_dataset

ENGRAM = str(Path(sys.executable).with_name("engram"))
MODEL = "test/model"


def engram(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    env["ENGRAM_HOME"] = str(home)
    env["COLUMNS"] = "200"
    return subprocess.run([ENGRAM, "probes", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.fixture
def home_with_data(isolated_home) -> Path:
    write_dataset(ProbeStore(isolated_home / "probes").data_dir(MODEL), runs=40, seed=11)
    return isolated_home


def test_train_stores_a_probe_and_prints_its_figures(home_with_data):
    proc = engram(home_with_data, "train", "--model", MODEL, "--target-false-alarm", "0.1")
    assert proc.returncode == 0, proc.stderr
    assert "step AUROC" in proc.stdout and "saved" in proc.stdout
    assert "thresholds for 10% false alarms" in proc.stdout
    card = ProbeStore(home_with_data / "probes").load(MODEL).card
    assert card.thresholds.target_false_alarm == 0.1 and card.training.runs == 40


def test_eval_uses_only_runs_of_tasks_the_probe_never_saw(home_with_data):
    assert engram(home_with_data, "train", "--model", MODEL).returncode == 0
    store = ProbeStore(home_with_data / "probes")
    held_out = len(store.load(MODEL).card.training.test_runs)
    proc = engram(home_with_data, "eval", "--model", MODEL, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["runs"] == held_out
    write_dataset(store.data_dir(MODEL), runs=20, seed=12, prefix="new")
    figures = json.loads(engram(home_with_data, "eval", "--model", MODEL, "--json").stdout)
    assert figures["runs"] == held_out + 20 and figures["step_auroc"] > 0.9
    table = engram(home_with_data, "eval", "--model", MODEL).stdout
    assert "runs of tasks the probe never saw" in table and "mean entropy" in table


def test_eval_refuses_to_grade_a_probe_on_its_own_training_runs(home_with_data):
    assert engram(home_with_data, "train", "--model", MODEL, "--test-share", "0").returncode == 0
    refused = engram(home_with_data, "eval", "--model", MODEL)
    assert refused.returncode == 2 and "--all" in refused.stderr
    assert engram(home_with_data, "eval", "--model", MODEL, "--all").returncode == 0


def test_train_json_prints_only_the_card(home_with_data):
    proc = engram(home_with_data, "train", "--model", MODEL, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model_id"] == MODEL
    assert "dataset" in proc.stderr  # what it trained on is still said, on stderr


def test_train_inputs_are_stored_on_the_card_and_checked(home_with_data):
    proc = engram(
        home_with_data, "train", "--model", MODEL, "--inputs", "hidden+baselines", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    card = json.loads(proc.stdout)
    assert card["inputs"] == "hidden+baselines" and card["hidden_size"] == DIM + 2
    bad = engram(home_with_data, "train", "--model", MODEL, "--inputs", "logits")
    assert bad.returncode == 2 and "unknown probe inputs" in bad.stderr


def test_train_on_the_runs_of_one_bench_run(home_with_data):
    tasks = home_with_data / "bench" / "half" / "tasks"
    tasks.mkdir(parents=True)
    for i in range(20):  # write_dataset names its runs run-000 … run-039
        (tasks / f"t{i}.json").write_text(json.dumps({"run_id": f"run-{i:03d}", "extras": {}}))
    proc = engram(home_with_data, "train", "--model", MODEL, "--bench-run", "half", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["training"]["runs"] == 20
    missing = engram(home_with_data, "train", "--model", MODEL, "--bench-run", "nowhere")
    assert missing.returncode == 2 and "no bench run there" in missing.stderr


def test_show_prints_the_card(home_with_data):
    assert engram(home_with_data, "train", "--model", MODEL).returncode == 0
    proc = engram(home_with_data, "show", "--model", MODEL)
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["model_id"] == MODEL


def test_train_without_data_says_what_to_do(isolated_home):
    proc = engram(isolated_home, "train", "--model", MODEL)
    assert proc.returncode == 2
    assert "collect runs first" in proc.stderr


def test_runs_show_prints_the_probe_scores_and_writes_the_plot(isolated_home, tmp_path):
    from memory.trajectories import TrajectoryStore
    from tests.probes.test_plots import _trajectory

    trajectory = _trajectory()
    trajectory.exit_status = ExitStatus.SUBMITTED
    TrajectoryStore(isolated_home / "runs").save(trajectory)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    env |= {"ENGRAM_HOME": str(isolated_home), "COLUMNS": "200"}
    png = tmp_path / "scores.png"
    proc = subprocess.run([ENGRAM, "runs", "show", trajectory.run_id, "--plot", str(png)],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "prefix ▁▄▄▇▃" in proc.stdout and "marks   ru↺" in proc.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"
