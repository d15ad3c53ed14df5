"""Which files are tests, and which are the project's own code. Shared by the prompt's
examples (tools.examples), the generator (never mutates tests) and the grader (resets
them before running, so a patch cannot make a task pass by editing its tests)."""

from __future__ import annotations

from pathlib import PurePosixPath

TEST_DIRS = frozenset({"tests", "test", "testing"})
# Files that belong to the project's tooling, not its behaviour: never mutated.
NOT_SOURCE = frozenset({"setup.py", "conftest.py", "noxfile.py", "_version.py", "version.py"})
NOT_SOURCE_DIRS = frozenset({"docs", "doc", "examples", "scripts", "benchmarks", "build", "dist"})


def is_test_path(path: str) -> bool:
    """A test module, a conftest, or anything under a tests/ directory (data included)."""
    p = PurePosixPath(path)
    name = p.name
    if name == "conftest.py":
        return True
    if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
        return True
    return any(part in TEST_DIRS for part in p.parts[:-1])


def is_mutable_source(path: str) -> bool:
    """A Python file of the project's own code (the generator's mutation targets)."""
    p = PurePosixPath(path)
    if p.suffix != ".py" or is_test_path(path) or p.name in NOT_SOURCE:
        return False
    return not any(part in NOT_SOURCE_DIRS or part.startswith(".") for part in p.parts[:-1])


def test_file_of(test_id: str) -> str | None:
    """The file of a pytest node id (`tests/test_x.py::test_y[a]`); None for other ids."""
    head = test_id.split("::", 1)[0]
    return head if head.endswith(".py") else None
