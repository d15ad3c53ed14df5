"""probes.training: split, fit, calibrate and evaluate on a synthetic dataset with a known
answer (hallucinated steps are shifted along one direction)."""

from __future__ import annotations

import numpy as np
import pytest

from probes.dataset import Dataset, DatasetError
from probes.training import TrainOptions, evaluate, split_runs, train_probe
from tests.probes.synthetic import POOLING, write_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    directory = tmp_path_factory.mktemp("data")
    write_dataset(directory, runs=80, seed=0)
    return Dataset.load(directory)


@pytest.fixture(scope="module")
def trained(dataset):
    return train_probe(dataset, "test/model", TrainOptions(seed=0, target_false_alarm=0.1))


def test_runs_are_split_without_overlap_and_with_verified_runs_everywhere(dataset):
    split = split_runs(dataset, TrainOptions(seed=0))
    parts = [set(split.train), set(split.calibration), set(split.test)]
    assert sum(len(p) for p in parts) == len(dataset.run_ids)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    verified = {r.run_id for r in dataset.rows if r.run_verified}
    assert all(p & verified for p in parts)
    assert split_runs(dataset, TrainOptions(seed=0)) == split


def test_samples_of_one_task_stay_on_one_side_of_every_split(tmp_path):
    """Best-of-k samples of a task share its prompt: scoring one after training on
    another would flatter the probe."""
    from probes.dataset import write_shard
    from tests.probes.synthetic import synthetic_shard

    rng = np.random.default_rng(1)
    for task in range(24):
        for sample in range(3):
            write_shard(tmp_path, synthetic_shard(f"t{task:02d}-s{sample}", rng,
                                                  task_id=f"task-{task:02d}"))  # fmt: skip
    split = split_runs(Dataset.load(tmp_path), TrainOptions(seed=0))
    side = {}
    for name, runs in (("train", split.train), ("calibration", split.calibration),
                       ("test", split.test)):  # fmt: skip
        for run in runs:
            side.setdefault(run.split("-")[0], set()).add(name)
    assert len(side) == 24 and all(len(sides) == 1 for sides in side.values())
    assert {name for sides in side.values() for name in sides} == {"train", "calibration", "test"}


def test_the_probe_finds_the_signal_and_beats_the_baselines(trained):
    _, evaluation = trained
    assert evaluation.step_auroc > 0.95
    assert evaluation.step_auroc > evaluation.entropy_auroc
    assert abs(evaluation.min_logprob_auroc - 0.5) < 0.2  # noise baseline: chance
    assert evaluation.run_auroc > 0.75  # 20 test runs: a coarse estimate


def test_the_card_records_what_the_probe_was_made_from(trained, dataset):
    probe, _ = trained
    card = probe.card
    assert (card.model_id, card.layer, card.hidden_size, card.pooling) == (
        "test/model",
        2,
        16,
        POOLING,
    )
    assert set(card.training.data_hashes) == set(dataset.run_ids)
    assert card.training.test_runs and card.metrics["step_auroc"] > 0.95
    assert card.thresholds.target_false_alarm == 0.1
    assert 0 < card.thresholds.step < 1 and 0 < card.thresholds.prefix < 1


def test_thresholds_keep_false_alarms_near_the_target_on_unseen_runs(trained, tmp_path):
    probe, _ = trained
    write_dataset(tmp_path, runs=200, seed=7)
    fresh = Dataset.load(tmp_path)
    evaluation = evaluate(probe, fresh, fresh.run_ids)
    assert evaluation.step_false_alarm <= 0.1 + 0.05
    assert evaluation.detection_rate > 0.8


def test_every_pooling_stored_can_be_trained_on(dataset):
    probe, _ = train_probe(dataset, "test/model", TrainOptions(pooling="mean", l2=1.0))
    assert probe.card.pooling == "mean" and probe.card.training.l2 == 1.0


def test_a_dataset_without_hallucinated_steps_is_refused(tmp_path):
    write_dataset(tmp_path, runs=6, seed=1, bad=np.zeros(6, dtype=int), verified=True)
    with pytest.raises(DatasetError, match="needs both"):
        train_probe(Dataset.load(tmp_path), "test/model")


def test_an_unknown_pooling_is_refused_before_any_work(dataset):
    with pytest.raises(ValueError, match="unknown pooling"):
        train_probe(dataset, "test/model", TrainOptions(pooling="max"))


def test_unseen_means_runs_of_tasks_the_probe_never_saw(tmp_path):
    from probes.dataset import write_shard
    from probes.training import unseen_runs
    from tests.probes.synthetic import synthetic_shard

    rng = np.random.default_rng(2)
    for task in range(20):
        write_shard(tmp_path, synthetic_shard(f"t{task:02d}-s0", rng, task_id=f"task-{task:02d}"))
    probe, _ = train_probe(Dataset.load(tmp_path), "test/model", TrainOptions(seed=0))
    seen = probe.card.training.train_runs[0]
    write_shard(tmp_path, synthetic_shard(f"{seen[:3]}-s1", rng, task_id=f"task-{seen[1:3]}"))
    write_shard(tmp_path, synthetic_shard("t99-s0", rng, task_id="task-99"))
    unseen = unseen_runs(probe, Dataset.load(tmp_path))
    assert "t99-s0" in unseen and f"{seen[:3]}-s1" not in unseen
    assert set(unseen) == set(probe.card.training.test_runs) | {"t99-s0"}
