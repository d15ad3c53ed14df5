"""`engram bench` subcommands as real processes (the ones that need no sandbox)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.tasks import BenchTask, SiteRecord, load_tasks, write_tasks

ENGRAM = str(Path(sys.executable).with_name("engram"))


def engram(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    env["ENGRAM_HOME"] = str(home)
    return subprocess.run([ENGRAM, "bench", *args], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def test_repo_fetch_prints_the_stable_commit(tmp_path):
    first = engram(tmp_path / "a", "repo", "fetch", "example:ledger")
    second = engram(tmp_path / "b", "repo", "fetch", "example:ledger")
    assert first.returncode == 0, first.stderr
    commit_line = first.stdout.splitlines()[-2]
    assert "clean commit" in commit_line and commit_line == second.stdout.splitlines()[-2]
    assert Path(first.stdout.splitlines()[-1].strip()).is_dir()


def test_split_rewrites_a_task_file_in_place(tmp_path):
    tasks = [
        BenchTask(instance_id=f"x__bug-{i}", repo="example:x", base_commit="c" * 40,
                  problem_statement="p", mutations=[SiteRecord(
                      kind="comparison" if i % 2 else "arithmetic", file="a.py", line=1,
                      end_line=1)])
        for i in range(10)
    ]  # fmt: skip
    path = tmp_path / "tasks.jsonl"
    write_tasks(path, tasks)
    proc = engram(tmp_path, "split", str(path), "--heldout-kinds", "comparison")
    assert proc.returncode == 0, proc.stderr
    for task in load_tasks(path):
        expected = "heldout_kind" if task.kinds == ["comparison"] else "in_kind"
        assert task.group == expected


def test_usage_errors_say_what_to_do(tmp_path):
    bad_kind = engram(tmp_path, "generate", "--repo", "example:ledger", "-n", "1",
                      "--kinds", "typo")  # fmt: skip
    assert bad_kind.returncode == 2 and "unknown mutation kind" in bad_kind.stderr
    path = tmp_path / "t.jsonl"
    path.write_text("")
    neither = engram(tmp_path, "grade", str(path))
    assert neither.returncode == 2 and "--predictions" in neither.stderr
    not_a_repo = engram(tmp_path, "generate", "--repo", str(tmp_path / "nowhere"), "-n", "1")
    assert not_a_repo.returncode == 2 and "neither a git repository" in not_a_repo.stderr
    no_samples = engram(tmp_path, "run", "--tasks", str(path), "--track", "learn",
                        "--stream-best-of", "0")  # fmt: skip
    assert no_samples.returncode == 2 and "--stream-best-of" in no_samples.stderr
