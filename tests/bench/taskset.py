"""Small real bench tasks for runner tests: hand-made bugs in the stats repository
(tests/bench/conftest.py), each with its failing tests, its fix and a split."""

from __future__ import annotations

from pathlib import Path

from agent.home import Home
from bench.repos import BenchRepos
from bench.tasks import BenchTask, write_tasks
from tests.bench.conftest import STATS

CORE = "src/stats/core.py"
TEST = "tests/test_core.py"
ALL_TESTS = [f"{TEST}::{name}" for name in (
    "test_mean", "test_mean_of_nothing", "test_clamp[-5-0]", "test_clamp[0-0]",
    "test_clamp[4-4]", "test_clamp[10-10]", "test_clamp[11-10]", "test_running_total",
    "test_window", "test_window_too_big", "test_is_sorted",
)]  # fmt: skip

# name: (original line, buggy line, failing tests, split)
BUGS = {
    "mean": ("return sum(values) / len(values)", "return sum(values) / (len(values) - 1)",
             ["test_mean"], "train"),
    "running": ("total += value", "total = value", ["test_running_total"], "train"),
    "window": ("len(values) - size + 1", "len(values) - size", ["test_window"], "train"),
    "sorted": ("a <= b", "a < b", ["test_is_sorted"], "test"),
    "clamp": ("    if x > hi:\n        return hi", "    if x > hi:\n        return lo",
              ["test_clamp[11-10]"], "test"),
}  # fmt: skip


def make_tasks(stats_repo: Path, home: Home, names: list[str] | None = None) -> list[BenchTask]:
    repo = BenchRepos(home).open(str(stats_repo))
    tasks = []
    for name in names or list(BUGS):
        old, new, failing, split = BUGS[name]
        assert STATS.count(old) == 1, name
        instance_id = f"stats__bug-{name}"
        base = repo.commit_bug({CORE: STATS.replace(old, new).encode()}, instance_id)
        f2p = [f"{TEST}::{t}" for t in failing]
        tasks.append(BenchTask(
            instance_id=instance_id, repo=repo.source.spec, base_commit=base,
            problem_statement=f"{', '.join(f2p)} fails since the last change to {CORE}.",
            FAIL_TO_PASS=f2p, PASS_TO_PASS=[t for t in ALL_TESTS if t not in f2p],
            patch=repo.fix_patch(base), environment_setup_commit=repo.clean_commit,
            split=split, group="in_kind", difficulty=1,
        ))  # fmt: skip
    return tasks


def task_file(path: Path, tasks: list[BenchTask]) -> Path:
    write_tasks(path, tasks)
    return path
