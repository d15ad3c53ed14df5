"""Train/test splits: deterministic, stratified by kind, held-out kinds never in train."""

from __future__ import annotations

from collections import Counter

from bench.splits import assign_splits, primary_kind, split_summary
from bench.tasks import BenchTask, SiteRecord

KINDS = ["comparison", "arithmetic", "off_by_one", "swapped_arguments", "boolean_operator"]


def make_tasks(n: int) -> list[BenchTask]:
    tasks = []
    for i in range(n):
        kinds = [KINDS[i % len(KINDS)]] + ([KINDS[(i * 7) % len(KINDS)]] if i % 3 == 0 else [])
        tasks.append(BenchTask(
            instance_id=f"repo__bug-{i:04d}", repo="example:x", base_commit="c" * 40,
            problem_statement="p",
            mutations=[SiteRecord(kind=k, file="a.py", line=j + 1, end_line=j + 1)
                       for j, k in enumerate(kinds)],
        ))  # fmt: skip
    return tasks


def test_heldout_kinds_never_reach_the_train_split():
    tasks = assign_splits(make_tasks(80), seed=0, heldout_kinds=["boolean_operator"])
    for task in tasks:
        if "boolean_operator" in task.kinds:
            assert (task.split, task.group) == ("test", "heldout_kind")
        else:
            assert task.group == "in_kind"
    assert all("boolean_operator" not in t.kinds for t in tasks if t.split == "train")


def test_split_is_stratified_by_primary_kind():
    tasks = assign_splits(make_tasks(100), seed=0, test_fraction=0.3, heldout_kinds=[])
    per_kind = Counter((primary_kind(t), t.split) for t in tasks)
    for kind in KINDS:
        total = per_kind[(kind, "train")] + per_kind[(kind, "test")]
        assert abs(per_kind[(kind, "test")] - 0.3 * total) <= 1


def test_same_seed_same_split_other_seed_other_split():
    first = [t.split for t in assign_splits(make_tasks(60), seed=4)]
    again = [t.split for t in assign_splits(make_tasks(60), seed=4)]
    other = [t.split for t in assign_splits(make_tasks(60), seed=5)]
    assert first == again and first != other


def test_split_does_not_depend_on_task_order():
    forward = {t.instance_id: t.split for t in assign_splits(make_tasks(50), seed=1)}
    backward = {t.instance_id: t.split for t in assign_splits(make_tasks(50)[::-1], seed=1)}
    assert forward == backward


def test_summary_counts_every_task():
    tasks = assign_splits(make_tasks(40), seed=0)
    summary = split_summary(tasks)
    assert sum(sum(row.values()) for row in summary.values()) == 40
