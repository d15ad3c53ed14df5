"""scripts/bench_probe_cv.py on a synthetic dataset with a known answer: every task is
held out exactly once with all its samples, the probe finds the planted direction, the
noise baseline stays at chance, and the within-kind figures are computed per tool."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from probes.dataset import Dataset, write_shard
from probes.training import TrainOptions
from tests.probes.synthetic import POOLING, synthetic_shard

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_probe_cv.py"


@pytest.fixture(scope="module")
def cv():
    spec = importlib.util.spec_from_file_location("bench_probe_cv", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(3)
    for task in range(30):
        for sample in range(2):
            write_shard(directory, synthetic_shard(f"t{task:02d}-s{sample}", rng,
                                                   task_id=f"task-{task:02d}"))  # fmt: skip
    return Dataset.load(directory)


def test_every_task_is_held_out_once_with_all_its_samples(cv, dataset):
    folds = cv.folds_of(dataset, 5, seed=0)
    held = [task for fold in folds for task in fold]
    assert sorted(held) == sorted({r.task_id for r in dataset.rows})
    assert len(held) == len(set(held)) and all(folds)


def test_the_probe_finds_the_signal_and_the_noise_baseline_does_not(cv, dataset):
    tools = np.array(["edit" if r.position % 2 else "view" for r in dataset.rows])
    result = cv.cross_validate(dataset, tools, POOLING, 5, TrainOptions(seed=0), reps=200)
    every = result["auroc"]["all steps"]
    assert result["skipped_folds"] == [] and result["tasks"] == 30
    assert every["step probe"]["auroc"] > 0.95
    assert every["step probe"]["low"] <= every["step probe"]["auroc"] <= every["step probe"]["high"]
    assert abs(every["min logprob"]["auroc"] - 0.5) < 0.15  # pure noise in the synthetic data
    assert set(result["auroc"]) == {"all steps", "edit steps", "view steps"}
    assert result["detected"] > 0.8 * result["runs_with_hallucination"]
    assert "step probe" in cv.render(result)


def test_probe_inputs_choose_what_the_probes_read(cv, dataset):
    # In the synthetic data the label lives in the hidden state and the token statistics
    # are noise: a probe on the statistics alone sits at chance, one on both still finds it.
    tools = np.array(["edit"] * len(dataset.rows))
    opts = TrainOptions(seed=0)
    both = cv.cross_validate(dataset, tools, POOLING, 5, opts, reps=50, inputs="hidden+baselines")
    stats = cv.cross_validate(dataset, tools, POOLING, 5, opts, reps=50, inputs="baselines")
    assert both["inputs"] == "hidden+baselines" and "hidden+baselines" in cv.render(both)
    assert both["auroc"]["all steps"]["step probe"]["auroc"] > 0.9
    assert abs(stats["auroc"]["all steps"]["step probe"]["auroc"] - 0.5) < 0.15


def test_bench_runs_name_their_samples(cv, tmp_path):
    import json

    tasks = tmp_path / "cell" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "a.json").write_text(
        json.dumps({"run_id": "r2", "extras": {"samples": [{"run_id": "r1"}, {"run_id": "r2"}]}})
    )
    (tasks / "b.json").write_text(json.dumps({"run_id": "r3", "extras": {}}))
    assert cv.bench_run_ids(tmp_path) == {"r1", "r2", "r3"}


def test_the_script_reads_further_dataset_directories(cv, tmp_path, monkeypatch, capsys):
    import json

    monkeypatch.setenv("ENGRAM_HOME", str(tmp_path / "home"))
    rng = np.random.default_rng(7)
    first, second = tmp_path / "a", tmp_path / "b"
    for task in range(20):
        folder = first if task < 10 else second
        write_shard(folder, synthetic_shard(f"t{task:02d}", rng, task_id=f"task-{task:02d}"))
    argv = [
        "--no-store",
        "--data",
        str(first),
        "--data",
        str(second),
        "--json",
        "--bootstrap",
        "20",
    ]
    assert cv.main(argv) == 0
    (result,) = json.loads(capsys.readouterr().out)
    assert result["tasks"] == 20 and result["runs"] == 20
    with pytest.raises(SystemExit):
        cv.main(["--no-store"])
