"""probes.collect + probes.dataset: a finished run's features and labels become a shard on
disk, with each row's history exactly what the monitor saw."""

from __future__ import annotations

import numpy as np
import pytest

from agent.backends.base import Generation
from agent.monitor import AcceptAll, MonitorInput
from agent.types import ExitStatus, Observation, Step, Task, ToolCall, Trajectory, Verification
from probes.collect import RecordingMonitor, rows_from_trajectory
from probes.dataset import Dataset, DatasetError, read_shard, shard_hash, write_shard
from probes.features import DATASET_POOLINGS
from probes.labels import CLEAN, HALLUCINATED, UNKNOWN, Labeler
from tests.conftest import REPO_ROOT
from tests.probes.synthetic import POOLING, synthetic_shard

LEDGER = REPO_ROOT / "examples" / "ledger"
LAYER = 2
REASON = "prefix score 0.80 > 0.50"


@pytest.fixture(scope="module")
def labeler():
    from tools.index import SymbolIndex

    return Labeler(SymbolIndex.build(LEDGER))


def _view(index: int, path: str, **kw) -> Step:
    call = ToolCall(name="view", arguments={"path": path})
    ran = kw.pop("ran", True)
    return Step(index=index, message=f"Look.\n```view\npath: {path}\n```", thought="Look.",
                action=call, observation=Observation(text="1 ...") if ran else None, **kw)  # fmt: skip


def _generation(rng, tokens: int = 6) -> Generation:
    return Generation(text="x", hidden=rng.normal(size=(tokens, 8)).astype(np.float32),
                      hidden_layer=LAYER, logprobs=[-0.5] * tokens, entropies=[1.0] * tokens)  # fmt: skip


@pytest.fixture
def run():
    """Six steps: ran, resampled, ran (no features), ran then undone, rollback trigger, ran."""
    steps = [
        _view(0, "src/ledger/money.py"),
        _view(1, "src/ledger/currency.py", ran=False, resampled=True, reason="step score high"),
        _view(2, "src/ledger/parser.py"),
        _view(3, "src/ledger/budget.py", rolled_back=True, reason=f"rolled back: {REASON}"),
        _view(4, "src/ledger/dates.py", ran=False, rolled_back=True, reason=f"not run: {REASON}"),
        _view(5, "src/ledger/journal.py"),
    ]
    trajectory = Trajectory(
        run_id="run-a", task=Task(id="t", repo=str(LEDGER), problem_statement="Fix it."),
        repo_id="ledger", model_id="test/model", backend="fake", steps=steps,
        exit_status=ExitStatus.SUBMITTED, verification=Verification(command="pytest", passed=True),
        verified_by="tests",
    )  # fmt: skip
    recorder = RecordingMonitor(AcceptAll(), layer=LAYER)
    rng = np.random.default_rng(0)
    for s in steps:
        generation = None if s.index == 2 else _generation(rng)
        recorder.assess(MonitorInput(s, generation, []))
    return trajectory, recorder


def test_the_recorder_keeps_every_pooling_and_says_what_it_missed(run):
    _, recorder = run
    assert len(recorder.records) == 5
    record = next(iter(recorder.records.values()))
    assert set(record.views) == {p.name for p in DATASET_POOLINGS}
    assert record.mean_entropy == 1.0 and record.min_logprob == -0.5 and record.n_tokens == 6
    assert list(recorder.missing.values()) == ["no generation (the run was resumed)"]


def test_rows_follow_the_monitors_view_through_resample_and_rollback(run, labeler):
    trajectory, recorder = run
    shard = rows_from_trajectory(trajectory, recorder.records, labeler, LAYER)
    assert [r.position for r in shard.rows] == [0, 1, 3, 4, 5]
    # Row numbers: pos0→0, pos1→1, pos3→2, pos4→3, pos5→4. Step 2 had no features.
    assert [r.history for r in shard.rows] == [[], [0], [0], [0, 2], [0]]
    assert [r.label for r in shard.rows] == [CLEAN, HALLUCINATED, UNKNOWN, UNKNOWN, CLEAN]
    assert shard.rows[1].resampled and shard.rows[2].rolled_back
    assert shard.pooled[POOLING].shape == (5, 8)


def test_shards_round_trip_through_disk(run, labeler, tmp_path):
    trajectory, recorder = run
    shard = rows_from_trajectory(trajectory, recorder.records, labeler, LAYER)
    write_shard(tmp_path, shard)
    back = read_shard(tmp_path / "run-a.jsonl")
    assert back.rows == shard.rows and back.layer == LAYER and back.model_id == "test/model"
    for name, arr in shard.pooled.items():
        np.testing.assert_array_equal(back.pooled[name], arr)
    np.testing.assert_array_equal(back.mean_entropy, shard.mean_entropy)


def test_a_dataset_concatenates_shards_and_maps_histories_to_global_rows(tmp_path):
    rng = np.random.default_rng(1)
    for i in range(3):
        write_shard(tmp_path, synthetic_shard(f"r{i}", rng, steps=4))
    data = Dataset.load(tmp_path)
    assert data.run_ids == ["r0", "r1", "r2"]
    assert data.features(POOLING).shape == (12, 16)
    assert data.histories()[5] == [4]  # second row of the second run
    x = data.features(POOLING)
    seq, labels = data.sequences(x, [7])[0]
    np.testing.assert_array_equal(seq, x[4:8])
    assert len(labels) == 4


def test_incomplete_shards_are_skipped_with_a_note(tmp_path):
    rng = np.random.default_rng(2)
    write_shard(tmp_path, synthetic_shard("good", rng, steps=4))
    write_shard(tmp_path, synthetic_shard("torn", rng, steps=4))
    (tmp_path / "torn.safetensors").unlink()  # killed between the two writes
    lines = (tmp_path / "good.jsonl").read_text().splitlines()
    write_shard(tmp_path, synthetic_shard("short", rng, steps=4))
    (tmp_path / "short.jsonl").write_text("\n".join(lines[:2]) + "\n")
    data = Dataset.load(tmp_path)
    assert data.run_ids == ["good"]
    assert len(data.skipped) == 2


def test_shard_hashes_name_the_content(tmp_path):
    rng = np.random.default_rng(3)
    shard = synthetic_shard("h", rng, steps=4)
    write_shard(tmp_path, shard)
    first = shard_hash(tmp_path / "h.jsonl")
    write_shard(tmp_path, shard)
    assert shard_hash(tmp_path / "h.jsonl") == first
    shard.pooled[POOLING][0, 0] += 1.0
    write_shard(tmp_path, shard)
    assert shard_hash(tmp_path / "h.jsonl") != first


def test_a_repeated_greedy_run_counts_once(tmp_path):
    rng = np.random.default_rng(0)
    first = synthetic_shard("a", rng, task_id="task-1")
    again = synthetic_shard("b", rng, task_id="task-1")
    for row, same in zip(again.rows, first.rows, strict=True):
        row.message_sha = same.message_sha = f"sha-{same.position}"
    other = synthetic_shard("c", rng, task_id="task-2")
    for shard in (first, again, other):
        write_shard(tmp_path, shard)
    kept, dropped = Dataset.load(tmp_path).without_repeats()
    assert dropped == 1 and kept.run_ids == ["a", "c"]


def test_several_directories_load_as_one_dataset_and_a_run_in_both_counts_once(tmp_path):
    rng = np.random.default_rng(4)
    store, track = tmp_path / "store", tmp_path / "track"
    write_shard(store, synthetic_shard("r0", rng, steps=4))
    shared = synthetic_shard("r1", rng, steps=4)
    write_shard(store, shared)
    write_shard(track, shared)  # the same run copied into both
    write_shard(track, synthetic_shard("r2", rng, steps=4))
    data = Dataset.load([store, track, tmp_path / "missing"])
    assert sorted(data.run_ids) == ["r0", "r1", "r2"]
    assert set(data.hashes) == {"r0", "r1", "r2"}
    assert Dataset.load([store, track], runs=["r2"]).run_ids == ["r2"]
    with_layer = synthetic_shard("r3", rng, steps=4, layer=5)
    write_shard(track, with_layer)
    with pytest.raises(DatasetError, match="mixes layers"):
        Dataset.load([store, track])
