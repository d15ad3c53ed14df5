"""Recording a human's verdict in a trajectory file: atomic, locked, validated."""

from __future__ import annotations

import sys
import threading
import types

import pytest
from pydantic import ValidationError

from agent.home import Home
from agent.types import Task, Trajectory
from bot.verdict import (
    LearnHookError,
    TrajectoryMissing,
    load_trajectory,
    record_verdict,
    resolve_learn_hook,
    trajectory_path,
)


@pytest.fixture
def path(isolated_home):
    p = trajectory_path(Home(isolated_home), "run-1")
    p.parent.mkdir(parents=True)
    t = Trajectory(
        run_id="run-1",
        task=Task(id="t", repo="r", problem_statement="p"),
        repo_id="r-1",
        model_id="m",
        backend="fake",
        verified_by="tests",
    )
    p.write_text(t.model_dump_json())
    return p


def test_merge_verdict_makes_the_run_eligible(path):
    updated = record_verdict(path, eligible=True, verified_by="human-merge")
    on_disk = load_trajectory(path)
    assert on_disk == updated
    assert on_disk.verified_by == "human-merge" and on_disk.eligible_for_learning


def test_rejection_keeps_verified_by_and_is_idempotent(path):
    record_verdict(path, eligible=False)
    first = path.read_bytes()
    record_verdict(path, eligible=False)
    assert path.read_bytes() == first
    assert load_trajectory(path).verified_by == "tests"


def test_invalid_verdict_leaves_the_file_alone(path):
    before = path.read_bytes()
    with pytest.raises(ValidationError):
        record_verdict(path, eligible=True, verified_by="a-hunch")
    assert path.read_bytes() == before


def test_missing_trajectory(isolated_home):
    with pytest.raises(TrajectoryMissing):
        record_verdict(trajectory_path(Home(isolated_home), "nope"), eligible=True)


def test_unknown_format_version_is_refused(path):
    path.write_text(path.read_text().replace('"format_version":1', '"format_version":99'))
    with pytest.raises(ValueError, match="format 99"):
        load_trajectory(path)


def test_concurrent_verdicts_never_corrupt_the_file(path):
    errors: list[BaseException] = []

    def flip(eligible: bool) -> None:
        try:
            for _ in range(20):
                record_verdict(path, eligible=eligible)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=flip, args=(i % 2 == 0,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    load_trajectory(path)  # still a complete, valid trajectory
    assert not list(path.parent.glob(".*.tmp"))


def test_learn_hook_learns_on_the_runs_workspace_under_its_repo_id(monkeypatch, path):
    import memory.learn

    calls = []
    monkeypatch.setattr(memory.learn, "learn",
                        lambda repo, home, config, **kw: calls.append((repo, kw)) or "v1")  # fmt: skip
    hook = resolve_learn_hook()
    assert hook is not None
    home = Home.resolve()
    trajectory = load_trajectory(path)
    with pytest.raises(LearnHookError, match="workspace is gone"):
        hook(trajectory, home=home)
    (home.worktrees / "run-1" / ".git").mkdir(parents=True)
    assert hook(trajectory, home=home) == "v1"
    assert calls == [(home.worktrees / "run-1", {"repo_id": "r-1"})]


def test_without_memory_learn_there_is_no_hook(monkeypatch):
    monkeypatch.setitem(sys.modules, "memory.learn", None)  # import raises ImportError
    assert resolve_learn_hook() is None
    module = types.ModuleType("memory.learn")
    monkeypatch.setitem(sys.modules, "memory.learn", module)  # no `learn` in it
    assert resolve_learn_hook() is None
