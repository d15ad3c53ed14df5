"""`engram probes train|eval|show` as real processes over a synthetic dataset in
ENGRAM_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agent.types import ExitStatus
from probes.dataset import Dataset, read_shard, write_shard
from probes.store import ProbeStore
from tests.probes.synthetic import DIM, synthetic_shard, write_dataset

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


def test_an_archive_keeps_the_labelled_runs_and_trains_on_a_new_machine(home_with_data, tmp_path):
    """Archive on one home, train from the archive alone on another."""
    store_dir = ProbeStore(home_with_data / "probes").data_dir(MODEL)
    rng = np.random.default_rng(3)
    for i in range(3):  # unverified runs without a hallucination: every step unknown
        write_shard(store_dir, synthetic_shard(f"plain-{i}", rng, bad=np.zeros(5), verified=False))
    collected = Dataset.load(store_dir)
    unlabelled = [s.run_id for s in collected.shards if all(r.label == -1 for r in s.rows)]
    assert len(unlabelled) == 3
    dest = tmp_path / "records" / "probes" / "run-1"
    proc = engram(home_with_data, "archive", str(dest), "--model", MODEL)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(unlabelled)} runs without a labelled step left out" in proc.stdout
    archived = Dataset.load(dest)
    assert len(archived.shards) == 40
    labelled = lambda d: (d.labels != -1).sum()  # noqa: E731
    assert labelled(archived) == labelled(collected)
    shard = read_shard(next(dest.glob("*.jsonl")))
    assert all(v.dtype == np.float16 for v in shard.pooled.values())
    original = read_shard(store_dir / f"{shard.run_id}.jsonl")
    for name, values in shard.pooled.items():
        np.testing.assert_allclose(values, original.pooled[name], rtol=2e-3, atol=2e-3)
    np.testing.assert_array_equal(shard.min_logprob, original.min_logprob)

    # From another dataset directory (a probe track run's), into a home with none.
    again = tmp_path / "again"
    proc = engram(tmp_path / "empty-home", "archive", str(again), "--model", MODEL,
                  "--data", str(dest))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert labelled(Dataset.load(again)) == labelled(archived)
    proc = engram(tmp_path / "empty-home", "archive", str(tmp_path / "b"), "--model", MODEL,
                  "--data", str(tmp_path / "nowhere"))  # fmt: skip
    assert proc.returncode != 0 and "--data" in proc.stdout + proc.stderr

    fresh = tmp_path / "fresh-home"
    proc = engram(fresh, "train", "--model", MODEL, "--data", str(dest))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(archived.shards)} runs" in proc.stdout and "saved" in proc.stdout
    proc = engram(fresh, "train", "--model", MODEL, "--data", str(tmp_path / "nowhere"))
    assert proc.returncode != 0 and "--data" in proc.stdout + proc.stderr


def test_archiving_nothing_labelled_is_a_clear_error(isolated_home, tmp_path):
    data = ProbeStore(isolated_home / "probes").data_dir(MODEL)
    write_shard(data, synthetic_shard("r0", np.random.default_rng(0), bad=np.zeros(4),
                                      verified=False))  # fmt: skip
    proc = engram(isolated_home, "archive", str(tmp_path / "a"), "--model", MODEL)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "has a labelled step: nothing to archive" in said
    assert not (tmp_path / "a").exists()


def test_archiving_onto_a_file_is_a_clear_error(home_with_data, tmp_path):
    (tmp_path / "taken").write_text("")
    proc = engram(home_with_data, "archive", str(tmp_path / "taken"), "--model", MODEL)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "cannot archive to" in said and "Traceback" not in said
