"""How the next round's runner plugs in: a bench task, started from its task checkout by
the real agent graph (Docker sandbox, scripted model), its final diff graded."""

from __future__ import annotations

import pytest

from agent.backends.fake import FakeBackend
from agent.config import load_config
from agent.home import Home
from bench.grading import Grader
from bench.repos import BenchRepos, task_checkout
from bench.tasks import BenchTask
from sandboxes.repo import repo_identity
from tests.conftest import make_git_repo

pytestmark = [pytest.mark.docker, pytest.mark.slow]

CORE = "def add(a, b):\n    return a + b\n"
FILES = {
    "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    "src/calc/__init__.py": "",
    "src/calc/core.py": CORE,
    "tests/test_core.py": "from calc.core import add\n\n\ndef test_add():\n"
    "    assert add(2, 3) == 5\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n",
}
SCRIPT = [
    "```edit\npath: src/calc/core.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
    "    return a + b\n>>>>>>> REPLACE\n```",
    "Fixed.\n```submit\n```",
]


def test_a_bench_task_runs_from_its_checkout_and_grades(tmp_path, sandbox_image):
    from agent.assembly import build_handles
    from agent.run import Runner

    home = Home.resolve()
    repo = BenchRepos(home).open(str(make_git_repo(tmp_path / "calc", FILES)))
    base = repo.commit_bug({"src/calc/core.py": CORE.replace("a + b", "a - b").encode()},
                           "calc__bug-1")  # fmt: skip
    bench_task = BenchTask(
        instance_id="calc__bug-1", repo=repo.source.spec, base_commit=base,
        problem_statement="add(2, 3) gives -1", FAIL_TO_PASS=["tests/test_core.py::test_add"],
        PASS_TO_PASS=["tests/test_core.py::test_zero"], patch=repo.fix_patch(base),
        environment_setup_commit=repo.clean_commit,
    )  # fmt: skip
    checkout = task_checkout(bench_task, home)
    task = bench_task.to_task()
    config = load_config(flags={"sandbox.kind": "docker", "agent.repo_map_tokens": 0}).config
    handles = build_handles(config, home, task, repo_identity(checkout).id,
                            FakeBackend(list(SCRIPT)))  # fmt: skip
    trajectory = Runner(home, config).start(task, checkout, handles)
    assert trajectory.resolved, trajectory.verification
    assert repo_identity(checkout).id == repo_identity(repo.path).id  # one repo id per source

    grade = Grader(timeout_s=120).grade(bench_task, trajectory.final_diff)
    assert grade.resolved, grade.summary()
