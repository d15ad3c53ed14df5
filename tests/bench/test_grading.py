"""Grading against real sandboxes: resolved, and every way of not being resolved."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from agent.home import Home
from bench.grading import Grader
from bench.repos import BenchRepos
from bench.tasks import BenchTask
from tests.conftest import make_git_repo

pytestmark = pytest.mark.docker

CORE = """\
def add(a, b):
    return a + b


def clamp(x, lo, hi):
    return max(lo, min(x, hi))
"""
TESTS = """\
from calc.core import add, clamp


def test_add():
    assert add(2, 3) == 5


def test_clamp():
    assert clamp(5, 0, 3) == 3


def test_clamp_inside():
    assert clamp(2, 0, 3) == 2
"""
CALC = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0"\n\n'
    '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
    "src/calc/__init__.py": "",
    "src/calc/core.py": CORE,
    "tests/test_core.py": TESTS,
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, sandbox_image):
    where = tmp_path_factory.mktemp("grading")
    source = make_git_repo(where / "calc", CALC)
    repo = BenchRepos(Home(where / "home")).open(str(source))
    base = repo.commit_bug({"src/calc/core.py": CORE.replace("a + b", "a - b").encode()},
                           "calc__bug-add")  # fmt: skip
    task = BenchTask(
        instance_id="calc__bug-add", repo=repo.source.spec, base_commit=base,
        problem_statement="add subtracts", FAIL_TO_PASS=["tests/test_core.py::test_add"],
        PASS_TO_PASS=["tests/test_core.py::test_clamp", "tests/test_core.py::test_clamp_inside"],
        patch=repo.fix_patch(base), environment_setup_commit=repo.clean_commit,
    )  # fmt: skip
    grader = Grader(work_dir=where / "grading", timeout_s=60,
                    resolve_repo=lambda t: repo.task_repo(t))  # fmt: skip
    return repo, task, grader, where


def diff_of(setup, changes: dict[str, str | None]) -> str:
    """A patch made the way an agent's run makes one: edit a checkout of the base, diff it."""
    repo, task, _, where = setup
    checkout = where / "edit"
    shutil.rmtree(checkout, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", str(repo.task_repo(task)), str(checkout)], check=True)
    for rel, text in changes.items():
        path = checkout / rel
        if text is None:
            path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=checkout, check=True)
    return subprocess.run(["git", "diff", "--cached"], cwd=checkout, check=True,
                          capture_output=True, text=True).stdout  # fmt: skip


def test_the_gold_patch_resolves(setup):
    _, task, grader, _ = setup
    grade = grader.grade(task, task.patch)
    assert grade.resolved, grade.summary()
    assert grade.patch_status == "applied" and grade.error is None
    assert grade.fail_to_pass == {"tests/test_core.py::test_add": "passed"}
    assert set(grade.pass_to_pass.values()) == {"passed"}
    verification = grade.to_verification()
    assert verification.passed and verification.fail_to_pass_ok and verification.pass_to_pass_ok


def test_an_empty_patch_is_not_run(setup):
    _, task, grader, _ = setup
    grade = grader.grade(task, "  \n")
    assert not grade.resolved and grade.patch_status == "empty"
    assert set(grade.fail_to_pass.values()) == {"not_run"}


def test_a_patch_that_does_not_apply_is_recorded(setup):
    _, task, grader, _ = setup
    stale = task.patch.replace("a - b", "a * b")
    grade = grader.grade(task, stale)
    assert not grade.resolved and grade.patch_status == "does_not_apply" and grade.error is None
    assert "core.py" in grade.apply_output
    assert grader.grade(task, "this is not a diff\n").patch_status == "does_not_apply"


def test_edits_to_tests_are_undone(setup):
    _, task, grader, _ = setup
    cheat = diff_of(setup, {
        "tests/test_core.py": TESTS.replace("add(2, 3) == 5", "add(2, 3) == -1"),
        "tests/conftest.py": "import pytest\n",
    })  # fmt: skip
    grade = grader.grade(task, cheat)
    assert not grade.resolved
    assert grade.reset_test_files == ["tests/conftest.py", "tests/test_core.py"]
    assert grade.fail_to_pass == {"tests/test_core.py::test_add": "failed"}


def test_a_fix_that_also_edits_tests_still_resolves(setup):
    _, task, grader, _ = setup
    patch = diff_of(setup, {"src/calc/core.py": CORE,
                            "tests/test_core.py": TESTS + "\n\ndef test_more():\n    pass\n"})  # fmt: skip
    grade = grader.grade(task, patch)
    assert grade.resolved and grade.reset_test_files == ["tests/test_core.py"]


def test_a_test_id_that_no_longer_exists_counts_as_failed(setup):
    _, task, grader, _ = setup
    ghost = task.model_copy(update={"FAIL_TO_PASS": [
        "tests/test_core.py::test_add", "tests/test_core.py::test_gone",
        "tests/test_nofile.py::test_x"]})  # fmt: skip
    grade = grader.grade(ghost, task.patch)
    assert not grade.resolved
    assert grade.fail_to_pass["tests/test_core.py::test_gone"] == "missing"
    assert grade.fail_to_pass["tests/test_nofile.py::test_x"] == "missing"
    assert grade.fail_to_pass["tests/test_core.py::test_add"] == "passed"


def test_a_patch_that_hangs_times_out(setup):
    repo, task, _, where = setup
    quick = Grader(
        work_dir=where / "grading", timeout_s=5, resolve_repo=lambda t: repo.task_repo(t)
    )
    hang = diff_of(
        setup, {"src/calc/core.py": CORE.replace("return a + b", "while True:\n        pass")}
    )
    grade = quick.grade(task, hang)
    assert grade.timed_out and not grade.resolved
    assert set(grade.fail_to_pass.values()) == {"missing"}


def test_a_collection_error_fails_the_tests_it_hides(setup):
    _, task, grader, _ = setup
    broken = diff_of(setup, {"src/calc/core.py": "raise ImportError('no')\n" + CORE})
    grade = grader.grade(task, broken)
    assert not grade.resolved and grade.collection_errors
    assert "tests/test_core.py" in grade.collection_errors[0]
    assert grade.fail_to_pass == {"tests/test_core.py::test_add": "missing"}


def test_test_patch_is_applied(setup):
    _, task, grader, _ = setup
    extra = "\n\ndef test_add_negative():\n    assert add(-1, -1) == -2\n"
    test_patch = diff_of(setup, {"tests/test_core.py": TESTS + extra})
    with_tests = task.model_copy(update={
        "test_patch": test_patch,
        "FAIL_TO_PASS": [*task.FAIL_TO_PASS, "tests/test_core.py::test_add_negative"]})  # fmt: skip
    grade = grader.grade(with_tests, task.patch)
    assert grade.resolved and grade.test_patch_status == "applied"
    assert grade.fail_to_pass["tests/test_core.py::test_add_negative"] == "passed"
    assert not grader.grade(with_tests, diff_of(setup, {"README": "x\n"})).resolved


def test_the_workspace_is_cleaned_up(setup):
    _, task, grader, where = setup
    grader.grade(task, task.patch)
    assert not any(Path(where / "grading").iterdir())
