"""Drive the real graph with a scripted backend, real tools and a real sandbox.

The repository has one bug (`add` subtracts); the canonical script views the file,
fixes it, runs the tests and submits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.assembly import build_handles
from agent.backends.fake import FakeBackend
from agent.config import load_config
from agent.home import Home
from agent.run import Runner
from agent.types import Task
from sandboxes.repo import repo_identity
from tests.conftest import make_git_repo

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TESTS = (
    "from pkg.core import add, mul\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul(2, 3) == 6\n"
)

VIEW = "Let me look at the code.\n```view\npath: pkg/core.py\n```"
FIX = (
    "The add function subtracts; fix it.\n```edit\npath: pkg/core.py\n<<<<<<< SEARCH\n"
    "    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE\n```"
)
TEST = "Run the tests.\n```run_tests\n```"
SUBMIT = "Tests pass.\n```submit\n```"
HAPPY = [VIEW, FIX, TEST, SUBMIT]


@pytest.fixture
def buggy_repo(tmp_path) -> Path:
    return make_git_repo(tmp_path / "user-repo", {
        "pkg/__init__.py": "", "pkg/core.py": BUGGY, "tests/test_core.py": TESTS,
    })  # fmt: skip


@pytest.fixture
def task(buggy_repo) -> Task:
    return Task(id="add-bug", repo=str(buggy_repo), problem_statement="add(2, 3) returns -1.",
                fail_to_pass=["tests/test_core.py::test_add"],
                pass_to_pass=["tests/test_core.py::test_mul"])  # fmt: skip


class Harness:
    def __init__(self, repo: Path, task: Task, sandbox: str, **overrides):
        flags = {"sandbox.kind": sandbox, "agent.repo_map_tokens": 200, **overrides}
        self.config = load_config(flags=flags).config
        self.home = Home.resolve()
        self.repo = repo
        self.task = task
        self.runner = Runner(self.home, self.config)
        self.events = []

    def handles(self, script, monitor=None, before_node=None, backend=None):
        self.backend = backend or FakeBackend(script)
        return build_handles(
            self.config, self.home, self.task, repo_identity(self.repo).id, self.backend,
            events=self.events.append, monitor=monitor, before_node=before_node,
        )  # fmt: skip

    def run(self, script, **kwargs):
        return self.runner.start(self.task, self.repo, self.handles(script, **kwargs))


@pytest.fixture
def harness(buggy_repo, task):
    def make(sandbox: str = "local", **overrides) -> Harness:
        return Harness(buggy_repo, task, sandbox, **overrides)

    return make
