"""The generator end to end: real sandboxes, real git, real processes killed and resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.home import Home
from bench.generator import GenerateOptions, Generator
from bench.grading import Grader
from bench.repos import BenchRepos
from bench.tasks import load_tasks
from sandboxes.settings import SandboxSettings

ENGRAM = str(Path(sys.executable).with_name("engram"))


def _patch_lines(patch: str) -> list[str]:
    """The changed lines of a patch (long enough to be telling)."""
    changed = [line[1:].strip() for line in patch.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]  # fmt: skip
    return [line for line in changed if len(line) >= 8]


@pytest.mark.docker
@pytest.mark.slow
def test_generated_tasks_hold_up_under_grading(stats_repo, tmp_path, sandbox_image):
    home = Home(tmp_path / "home")
    repo = BenchRepos(home).open(str(stats_repo))
    options = GenerateOptions(n=3, seed=0, min_sites=1, max_sites=2, workers=2)
    settings = SandboxSettings(kind="docker")
    tasks, stats = Generator(repo, options, settings, tmp_path / "gen").run()
    assert len(tasks) == 3 and stats.tasks == 3
    assert {t.difficulty for t in tasks} <= {1, 2}
    grader = Grader(settings=settings, work_dir=tmp_path / "grading", timeout_s=120,
                    resolve_repo=lambda t: repo.task_repo(t))  # fmt: skip
    for task in tasks:
        everything = set(task.FAIL_TO_PASS) | set(task.PASS_TO_PASS)
        assert task.FAIL_TO_PASS and not set(task.FAIL_TO_PASS) & set(task.PASS_TO_PASS)
        assert len(everything) == stats.tests_in_suite
        assert task.environment_setup_commit == repo.clean_commit
        assert task.split in ("train", "test") and task.group in ("in_kind", "heldout_kind")
        assert len(task.mutations or []) == task.difficulty
        for line in _patch_lines(task.patch or ""):
            assert line not in task.problem_statement
        assert grader.grade(task, task.patch or "").resolved  # the gold fix resolves
        unrelated = "--- a/README\n+++ b/README\n@@ -0,0 +1 @@\n+notes\n"
        untouched = grader.grade(task, "diff --git a/README b/README\nnew file mode 100644\n"
                                 + unrelated.replace("--- a/README", "--- /dev/null"))  # fmt: skip
        assert untouched.patch_status == "applied" and not untouched.resolved
        assert not untouched.fail_to_pass_ok and untouched.pass_to_pass_ok


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGRAM_")}
    # The local sandbox runs the host's python3: make it the one with pytest.
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["ENGRAM_HOME"] = str(home)
    return env


def _generate(home: Path, repo: Path, out: Path, seed: int = 0) -> subprocess.Popen:
    cmd = [ENGRAM, "bench", "generate", "--repo", str(repo), "-n", "4", "--sites", "1..2",
           "--seed", str(seed), "--out", str(out), "--sandbox", "local"]  # fmt: skip
    return subprocess.Popen(cmd, env=_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip


def _journal(home: Path) -> Path | None:
    found = sorted(home.glob("bench/repos/*/generate/*/journal.jsonl"))
    return found[0] if found else None


def _candidates(journal: Path) -> list[str]:
    keys = []
    for line in journal.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("type") == "candidate":
            keys.append(record["result"]["key"])
    return keys


def _comparable(path: Path) -> list[dict]:
    """The tasks without their timing measurements."""
    return [{k: v for k, v in t.to_record().items() if k != "validation_s"}
            for t in load_tasks(path)]  # fmt: skip


@pytest.mark.slow
def test_a_killed_generation_resumes_without_redoing_work(stats_repo, tmp_path):
    home = tmp_path / "home"
    out = tmp_path / "tasks.jsonl"
    proc = _generate(home, stats_repo, out)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        journal = _journal(home)
        if journal and len(_candidates(journal)) >= 3:
            break
        assert proc.poll() is None, proc.stdout.read().decode()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    before = _candidates(journal)

    resumed = _generate(home, stats_repo, out)
    output = resumed.communicate(timeout=600)[0].decode()
    assert resumed.returncode == 0, output
    after = _candidates(journal)
    assert after[: len(before)] == before
    assert len(after) == len(set(after)), "a candidate was validated twice"
    stats = json.loads(out.with_name("tasks.stats.json").read_text())
    assert stats["validated_this_run"] == len(after) - len(before)

    fresh_out = tmp_path / "fresh.jsonl"
    fresh = _generate(tmp_path / "fresh-home", stats_repo, fresh_out)
    assert fresh.wait(timeout=600) == 0
    assert _comparable(out) == _comparable(fresh_out)  # same seed, same tasks

    other_out = tmp_path / "other.jsonl"
    other = _generate(home, stats_repo, other_out, seed=1)
    assert other.wait(timeout=600) == 0
    assert [t["instance_id"] for t in _comparable(other_out)] != [
        t["instance_id"] for t in _comparable(out)
    ]


class _BrokenSandboxWorker:
    """A worker whose sandbox fails on every candidate (logic test of the generator loop)."""

    def __init__(self, repo, where, settings, name):
        pass

    def baseline(self):
        from bench.validation import Baseline
        from tools.testing.discovery import TestPlan

        return Baseline(plan=TestPlan(framework="pytest", source="t"), passing=["t::a"],
                        duration_s=1.0, command="pytest")  # fmt: skip

    def validate(self, key, mutations, files, baseline, timeout, max_fail_fraction):
        from bench.validation import CandidateResult

        return CandidateResult(key=key, mutations=mutations, status="error",
                               detail="SandboxError: engine gone")  # fmt: skip

    def close(self):
        pass


def test_a_failing_sandbox_stops_generation_and_is_not_journaled(stats_repo, tmp_path, monkeypatch):
    from bench.generator import GenerationError
    from bench.journal import Journal

    monkeypatch.setattr("bench.generator.ValidationWorker", _BrokenSandboxWorker)
    repo = BenchRepos(Home(tmp_path / "home")).open(str(stats_repo))
    generator = Generator(repo, GenerateOptions(n=2), SandboxSettings(kind="local"), tmp_path / "g")
    with pytest.raises(GenerationError, match="engine gone"):
        generator.run()
    baseline, results = Journal(generator.journal.path).load()
    assert baseline is not None and results == {}  # errors are retried by the next run
