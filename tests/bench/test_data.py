"""The committed task sets: well-formed, split correctly, nothing of the fix in a statement,
and (ledger) base commits that rebuild here from the bundled example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.mutation import KINDS
from bench.repos import BenchRepos
from bench.sdist import PINNED
from bench.splits import DEFAULT_HELDOUT
from bench.tasks import load_tasks

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"
SETS = {"ledger": "example:ledger", "toolz": "pypi:toolz==1.1.0"}


@pytest.fixture(scope="module", params=sorted(SETS))
def task_set(request):
    return request.param, load_tasks(DATA / f"{request.param}.jsonl")


def test_at_least_forty_validated_tasks_of_every_kind(task_set):
    name, tasks = task_set
    assert len(tasks) >= 40
    assert len({t.instance_id for t in tasks}) == len(tasks)
    assert {t.repo for t in tasks} == {SETS[name]}
    assert len({t.environment_setup_commit for t in tasks}) == 1
    assert {k for t in tasks for k in t.kinds} == set(KINDS)
    for task in tasks:
        assert re.fullmatch(r"[0-9a-f]{40}", task.base_commit)
        assert task.FAIL_TO_PASS and task.PASS_TO_PASS
        assert not set(task.FAIL_TO_PASS) & set(task.PASS_TO_PASS)
        assert task.patch and task.difficulty == len(task.mutations or [])
        assert task.source == "generated" and task.validation_s is not None


def test_splits_keep_heldout_kinds_out_of_training(task_set):
    _, tasks = task_set
    assert {t.split for t in tasks} == {"train", "test"}
    for task in tasks:
        heldout = set(task.kinds) & set(DEFAULT_HELDOUT)
        assert task.group == ("heldout_kind" if heldout else "in_kind")
        if heldout:
            assert task.split == "test" and set(task.kinds) <= set(DEFAULT_HELDOUT)
    assert sum(t.split == "train" for t in tasks) >= 25


def test_statements_never_show_the_fix(task_set):
    _, tasks = task_set
    for task in tasks:
        changed = [line[1:].strip() for line in (task.patch or "").splitlines()
                   if line[:1] in "+-" and not line.startswith(("+++", "---"))]  # fmt: skip
        for line in changed:
            if len(line) >= 8:
                assert line not in task.problem_statement, (task.instance_id, line)
        assert task.FAIL_TO_PASS[0] in task.problem_statement


def test_the_toolz_sdist_is_pinned():
    assert "toolz==1.1.0" in PINNED


def test_ledger_base_commits_rebuild_from_the_bundled_example():
    tasks = load_tasks(DATA / "ledger.jsonl")
    repo = BenchRepos().open("example:ledger")
    assert repo.clean_commit == tasks[0].environment_setup_commit
    for task in tasks:
        assert repo.recreate(task) == task.base_commit


@pytest.mark.docker
@pytest.mark.slow
def test_gold_patches_resolve_through_the_cli(sandbox_image, isolated_home):
    tasks = load_tasks(DATA / "ledger.jsonl")
    ids = [t.instance_id for t in tasks[:3]]
    env = {**os.environ, "ENGRAM_HOME": str(isolated_home)}
    engram = str(Path(sys.executable).with_name("engram"))
    proc = subprocess.run(
        [engram, "bench", "grade", str(DATA / "ledger.jsonl"), "--gold", "--ids", ",".join(ids),
         "--workers", "2", "--sandbox", "docker"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resolved 3/3" in proc.stdout
