"""How does this repository run its tests? Read from its files, never by running tox.

Order: an explicit command (a Task's own) → pytest configuration (pytest.ini,
pyproject [tool.pytest.ini_options] / [tool.pytest], tox.ini [pytest], setup.cfg
[tool:pytest], a conftest.py) → the test command of tox.ini's [testenv] or a
noxfile's `session.run(...)` → the style of the test files themselves (pytest or
unittest) → pytest as the default. tox/nox only contribute their command's test
paths and selection options (-m, -k, --ignore…): their other options (coverage,
xdist, …) usually need plugins the sandbox lacks.
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import re
import shlex
import tomllib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandboxes.base import PathOutsideWorkspace, Sandbox
from tools import files

Framework = Literal["pytest", "unittest", "custom"]
_TEST_FILE = re.compile(r"(^|/)(test_[^/]*|[^/]*_test)\.py$")
_PYTEST_STYLE = re.compile(r"^(import pytest|from pytest|def test_|async def test_)", re.M)
# pytest options from tox/nox commands that select tests; everything else is dropped.
_KEEP_WITH_VALUE = {"-m", "-k", "--ignore", "--ignore-glob", "--deselect", "--rootdir"}


class TestPlan(BaseModel):
    """What to run. `args` come before any test ids the caller selects."""

    __test__ = False
    model_config = ConfigDict(extra="forbid")

    framework: Framework
    args: list[str] = Field(default_factory=list)
    source: str = Field(description="why this command: the file or rule it came from")
    command: str | None = Field(default=None, description="custom: the command line as is")
    pythonpath: list[str] = Field(default_factory=list, description="dirs put on PYTHONPATH")
    start_dir: str = "."  # unittest discovery
    top_dir: str = "."
    pattern: str = "test*.py"


def _read(sandbox: Sandbox, rel: str) -> str | None:
    try:
        return files.read_text(sandbox, rel)
    except (OSError, PathOutsideWorkspace, files.NotText):
        return None


def _ini(text: str) -> configparser.ConfigParser | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def pytest_config_source(sandbox: Sandbox) -> str | None:
    """Where the repository configures pytest, if it does."""
    if _read(sandbox, "pytest.ini") is not None:
        return "pytest.ini"
    pyproject = _read(sandbox, "pyproject.toml")
    if pyproject:
        try:
            tool = tomllib.loads(pyproject).get("tool", {})
        except tomllib.TOMLDecodeError:
            tool = {}
        pytest_table = tool.get("pytest")
        if isinstance(pytest_table, dict):
            if "ini_options" in pytest_table:
                return "pyproject.toml [tool.pytest.ini_options]"
            return "pyproject.toml [tool.pytest]"
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        text = _read(sandbox, name)
        parsed = _ini(text) if text else None
        if parsed is not None and parsed.has_section(section):
            return f"{name} [{section}]"
    for conftest in ("conftest.py", "tests/conftest.py", "test/conftest.py"):
        if files.exists(sandbox, conftest):
            return conftest
    return None


def split_command(line: str) -> tuple[Framework, list[str]] | None:
    """(framework, args) of a test command line, None if it is not one we can run."""
    try:
        words = shlex.split(line.replace("{posargs}", "").replace("{toxinidir}", "."))
    except ValueError:
        return None
    while words and ("=" in words[0] and not words[0].startswith("-")):
        words = words[1:]  # VAR=value prefixes
    if not words:
        return None
    program = posixpath.basename(words[0])
    rest = words[1:]
    if program in ("pytest", "py.test"):
        return "pytest", rest
    if re.fullmatch(r"python[\d.]*", program):
        if rest[:2] == ["-m", "pytest"]:
            return "pytest", rest[2:]
        if rest[:2] == ["-m", "unittest"]:
            return "unittest", rest[2:]
        if rest and rest[0].endswith(".py") and not rest[0].startswith("-"):
            return "custom", words
    return None


def selection_args(args: list[str]) -> list[str]:
    """The parts of a pytest command that select tests: paths and -m/-k/--ignore…."""
    keep: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        name = arg.split("=", 1)[0]
        if name in _KEEP_WITH_VALUE:
            if "=" in arg:
                keep.append(arg)
            elif index + 1 < len(args):
                keep += [arg, args[index + 1]]
                index += 1
        elif not arg.startswith("-"):
            keep.append(arg)
        elif "=" not in arg and index + 1 < len(args) and not args[index + 1].startswith("-"):
            index += 1  # an option's value (e.g. --cov ledger): not a path
        index += 1
    return keep


def tox_command(sandbox: Sandbox) -> tuple[str, str] | None:
    """(command line, source) of tox.ini's test command."""
    text = _read(sandbox, "tox.ini")
    parsed = _ini(text) if text else None
    if parsed is None:
        return None
    sections = ["testenv"] + [s for s in parsed.sections() if s.startswith("testenv:")]
    for section in sections:
        if not parsed.has_option(section, "commands"):
            continue
        for line in parsed.get(section, "commands").splitlines():
            line = line.strip().lstrip("-").strip()
            if line and split_command(line) is not None:
                return line, f"tox.ini [{section}] commands"
    return None


def nox_command(sandbox: Sandbox) -> tuple[str, str] | None:
    """(command line, source) from the first `session.run("pytest", …)`-like call."""
    text = _read(sandbox, "noxfile.py")
    if not text:
        return None
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "run":
            continue
        words = [
            a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        if len(words) != len(node.args) or not words:
            continue
        line = shlex.join(words)
        if split_command(line) is not None:
            return line, "noxfile.py session.run"
    return None


def find_test_files(sandbox: Sandbox) -> list[str]:
    return [f for f in files.walk_files(sandbox, limit=20_000) if _TEST_FILE.search(f)]


def _src_paths(sandbox: Sandbox) -> list[str]:
    """`src` when it holds a package (src layout), so tests import the working copy."""
    try:
        entries = files.list_dir(sandbox, "src") if files.exists(sandbox, "src") else []
    except OSError:
        return []
    for entry in entries:
        if entry.is_dir and files.exists(sandbox, f"{entry.rel}/__init__.py"):
            return ["src"]
    return []


def unittest_plan(sandbox: Sandbox, test_files: list[str], source: str) -> TestPlan:
    top_level = [f for f in test_files if "/" not in f]
    start = "."
    if not top_level:
        for candidate in ("tests", "test"):
            if any(f.startswith(candidate + "/") for f in test_files):
                start = candidate
                break
    top = start
    if start != "." and files.exists(sandbox, f"{start}/__init__.py"):
        top = "."
    pattern = "test*.py"
    if test_files and not any(posixpath.basename(f).startswith("test") for f in test_files):
        pattern = "*_test.py"
    return TestPlan(
        framework="unittest", source=source, start_dir=start, top_dir=top, pattern=pattern,
        pythonpath=_src_paths(sandbox),
    )  # fmt: skip


def plan_from_command(sandbox: Sandbox, line: str, source: str) -> TestPlan:
    parsed = split_command(line)
    if parsed is None:
        return TestPlan(framework="custom", command=line, source=source)
    framework, args = parsed
    if framework == "pytest":
        return TestPlan(
            framework="pytest", args=args, source=source, pythonpath=_src_paths(sandbox)
        )
    if framework == "unittest":
        plan = unittest_plan(sandbox, find_test_files(sandbox), source)
        names: list[str] = []
        index = 1 if args[:1] == ["discover"] else 0
        while index < len(args):
            arg = args[index]
            value = args[index + 1] if index + 1 < len(args) else None
            if arg in ("-s", "--start-directory") and value:
                plan.start_dir, plan.top_dir = value, value
                index += 1
            elif arg in ("-p", "--pattern") and value:
                plan.pattern = value
                index += 1
            elif arg in ("-t", "--top-level-directory") and value:
                plan.top_dir = value
                index += 1
            elif not arg.startswith("-"):
                names.append(arg)
            index += 1
        plan.args = names
        return plan
    return TestPlan(framework="custom", command=line, source=source)


def discover_tests(sandbox: Sandbox, override: str | None = None) -> TestPlan:
    """The test plan for the workspace (see the module docstring for the order)."""
    if override:
        return plan_from_command(sandbox, override, "the task's test command")
    derived = tox_command(sandbox) or nox_command(sandbox)
    config = pytest_config_source(sandbox)
    if config:
        plan = TestPlan(framework="pytest", source=config, pythonpath=_src_paths(sandbox))
        if derived and (parsed := split_command(derived[0])) and parsed[0] == "pytest":
            plan.args = selection_args(parsed[1])
            if plan.args:
                plan.source += f" + test paths from {derived[1]}"
        return plan
    if derived:
        plan = plan_from_command(sandbox, derived[0], derived[1])
        if plan.framework == "pytest":
            plan.args = selection_args(plan.args)
        return plan
    test_files = find_test_files(sandbox)
    if not test_files:
        return TestPlan(
            framework="pytest", source="no test configuration or test files found",
            pythonpath=_src_paths(sandbox),
        )  # fmt: skip
    pytest_style = any(_PYTEST_STYLE.search(_read(sandbox, f) or "") for f in test_files[:200])
    if pytest_style:
        return TestPlan(
            framework="pytest", source="test files written for pytest",
            pythonpath=_src_paths(sandbox),
        )  # fmt: skip
    return unittest_plan(sandbox, test_files, "test files written for unittest")
