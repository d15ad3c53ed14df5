"""Fixtures for the tools: a small real repository in a real sandbox.

`box` runs a test against both DockerSandbox and LocalSandbox; `docker_box` against
Docker only. Read-only tools share one module-scoped sandbox (`shared_box`) to keep
the container start-ups down.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes.base import Sandbox
from sandboxes.workspace import Workspace
from tests.conftest import make_git_repo
from tools.base import ToolContext
from tools.registry import ToolRegistry
from tools.types import ToolCall, ToolResult

CART = '''\
"""A shopping cart."""

from decimal import Decimal


class Cart:
    def __init__(self):
        self.items = []

    def add(self, name, price, quantity=1):
        self.items.append((name, Decimal(price), quantity))

    def total(self):
        return sum((price * quantity for _, price, quantity in self.items), Decimal(0))

    def count(self):
        return sum(quantity for _, _, quantity in self.items)


def empty_cart():
    return Cart()
'''

TEST_CART = """\
from decimal import Decimal

from shop.cart import Cart


def test_total():
    cart = Cart()
    cart.add("apple", "0.50", 3)
    assert cart.total() == Decimal("1.50")


def test_count():
    cart = Cart()
    cart.add("pear", "1", 2)
    assert cart.count() == 2
"""

SHOP = {
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0"\n\n'
    '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
    "README.md": "# shop\n\nA tiny shop.\n",
    "src/shop/__init__.py": "",
    "src/shop/cart.py": CART,
    "tests/test_cart.py": TEST_CART,
}


def open_sandbox(kind: str, repo: Path, where: Path, settings=None) -> Sandbox:
    ws = Workspace.create(repo, where / "ws", where / "snap.git", f"t-{uuid.uuid4().hex[:6]}")
    if kind == "docker":
        from sandboxes.container import DockerSandbox

        return DockerSandbox(ws, settings)
    from sandboxes.local import LocalSandbox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LocalSandbox(ws, settings)


@pytest.fixture
def make_box(tmp_path, request) -> Iterator:
    """Factory: (files, kind) → an open sandbox on a fresh git repo of those files."""
    opened: list[Sandbox] = []

    def make(files: dict[str, str], kind: str = "docker", settings=None) -> Sandbox:
        if kind == "docker":
            request.getfixturevalue("sandbox_image")
        where = tmp_path / uuid.uuid4().hex[:8]
        repo = make_git_repo(where / "repo", files)
        box = open_sandbox(kind, repo, where, settings)
        opened.append(box)
        return box

    yield make
    for box in opened:
        box.close()


@pytest.fixture(params=["docker", "local"])
def box(request, make_box) -> Sandbox:
    return make_box(SHOP, request.param)


@pytest.fixture
def docker_box(make_box) -> Sandbox:
    return make_box(SHOP, "docker")


@pytest.fixture(scope="module", params=["docker", "local"])
def shared_box(request, tmp_path_factory) -> Iterator[Sandbox]:
    """One sandbox per module and kind, for tools that do not change the workspace."""
    if request.param == "docker":
        request.getfixturevalue("sandbox_image")
    where = tmp_path_factory.mktemp("shared")
    repo = make_git_repo(where / "repo", SHOP)
    box = open_sandbox(request.param, repo, where)
    yield box
    box.close()


def call(box: Sandbox | None, name: str, ctx: ToolContext | None = None, **args) -> ToolResult:
    """Run one tool through the registry, as the agent does."""
    ctx = ctx or ToolContext(box)  # type: ignore[arg-type]
    return ToolRegistry().dispatch(ToolCall(name=name, arguments=args), ctx)


# A pytest suite with one test of every outcome, and a module that cannot be imported.
RICH_PYTEST = {
    "pytest.ini": "[pytest]\n",
    "tests/test_rich.py": """\
import pytest


def test_pass():
    assert True


def test_fail():
    assert 1 + 1 == 3, "arithmetic is broken"


@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n == 1


class TestGroup:
    def test_inner(self):
        assert True

    class TestNested:
        def test_deep(self):
            assert True


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False


@pytest.mark.xfail(strict=True)
def test_xpass_strict():
    assert True


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_setup_error(broken):
    pass
""",
    "tests/test_broken_import.py": "import does_not_exist_anywhere\n\n\ndef test_never():\n    pass\n",
}

RICH_EXPECTED = {
    "tests/test_rich.py::test_pass": "passed",
    "tests/test_rich.py::test_fail": "failed",
    "tests/test_rich.py::test_param[1]": "passed",
    "tests/test_rich.py::test_param[2]": "failed",
    "tests/test_rich.py::TestGroup::test_inner": "passed",
    "tests/test_rich.py::TestGroup::TestNested::test_deep": "passed",
    "tests/test_rich.py::test_skipped": "skipped",
    "tests/test_rich.py::test_xfail": "xfailed",
    "tests/test_rich.py::test_xpass_strict": "failed",
    "tests/test_rich.py::test_setup_error": "error",
}

# A unittest-only repository: no pytest configuration, tests/ is not a package.
UNITTEST_ONLY = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": """\
import unittest

from calc import add


class TestAdd(unittest.TestCase):
    def test_ok(self):
        self.assertEqual(add(1, 2), 3)

    def test_wrong(self):
        self.assertEqual(add(2, 2), 5)

    def test_raises(self):
        raise ValueError("boom")

    @unittest.skip("later")
    def test_skip(self):
        pass

    @unittest.expectedFailure
    def test_xf(self):
        self.assertEqual(1, 2)

    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertLess(i, 2)
""",
    "tests/test_broken.py": "import nothing_here_at_all\n",
}

UNITTEST_EXPECTED = {
    "test_calc.TestAdd.test_ok": "passed",
    "test_calc.TestAdd.test_wrong": "failed",
    "test_calc.TestAdd.test_raises": "error",
    "test_calc.TestAdd.test_skip": "skipped",
    "test_calc.TestAdd.test_xf": "xfailed",
    "test_calc.TestAdd.test_sub": "failed",
}
