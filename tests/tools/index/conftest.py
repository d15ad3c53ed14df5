"""Fixtures for the symbol index, repo map and grounding tests: a small but realistic
repository, and the bundled example (examples/ledger)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, make_git_repo

LEDGER = REPO_ROOT / "examples" / "ledger"

MINI_FILES = {
    "pkg/__init__.py": "from .core import Engine, start\nfrom .util import *\n",
    "pkg/core.py": '''"""The engine."""
from __future__ import annotations

from .errors import AppError
from .util import slugify

LIMIT = 3


class Engine:
    """Runs things."""

    name: str = "engine"

    def __init__(self, size: int) -> None:
        self.size = size

    def run(self) -> str:
        if self.size > LIMIT:
            raise AppError("too big")
        return slugify(self.name)

    @classmethod
    def build(cls) -> Engine:
        return cls(1)


class TurboEngine(Engine):
    def boost(self) -> None:
        self.size += 1


def start() -> str:
    return Engine(1).run()
''',
    "pkg/errors.py": '''from enum import Enum


class AppError(Exception):
    """Base error."""


class Kind(Enum):
    SMALL = 1
    LARGE = 2
''',
    "pkg/util.py": """import os


def slugify(text: str) -> str:
    return text.lower().replace(os.sep, "-")


def _hidden() -> None:
    pass
""",
    "pkg/lazy.py": "def __getattr__(name):\n    raise AttributeError(name)\n",
    "pkg/ext.py": "from somelib import Base\n\n\nclass Plugin(Base):\n    pass\n",
    "src/other/__init__.py": "",
    "src/other/mod.py": "from pkg import Engine\n\n\ndef helper() -> Engine:\n    return Engine(2)\n",
    "tests/test_core.py": (
        "from pkg.core import Engine, TurboEngine\n\n\ndef test_run():\n"
        "    assert Engine(1).run() == 'engine'\n    TurboEngine(1).boost()\n"
    ),
    "docs/guide.md": "# Guide\n",
    "pyproject.toml": '[project]\nname = "pkg"\ndependencies = ["python-dateutil>=2", "Requests"]\n',
}


@pytest.fixture
def mini_repo(tmp_path) -> Path:
    return make_git_repo(tmp_path / "mini", MINI_FILES)


@pytest.fixture
def mini_index(mini_repo):
    from tools.index import SymbolIndex

    return SymbolIndex.build(mini_repo)


@pytest.fixture(scope="session")
def ledger_repo() -> Path:
    if not (LEDGER / "src" / "ledger" / "money.py").is_file():
        pytest.fail(f"the bundled example repository is missing at {LEDGER}")
    return LEDGER


@pytest.fixture(scope="session")
def ledger_index(ledger_repo):
    from tools.index import SymbolIndex

    return SymbolIndex.build(ledger_repo)
