"""tools.failure_names: names a failed command was missing, kept only when the repository
lacks them. Outputs come from really running Python and shell commands in the repo."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools.failure_names import missing_from_failure


def run(repo, *cmd: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(repo)}
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0, proc.stdout
    return proc.stdout + proc.stderr


def py(repo, code: str) -> str:
    return run(repo, sys.executable, "-c", code)


def names(output: str, index) -> dict[str, str]:
    return {c.name: c.kind for c in missing_from_failure(output, index)}


def test_import_of_a_name_the_module_lacks(mini_repo, mini_index):
    out = py(mini_repo, "from pkg.core import Motor")
    assert "cannot import name 'Motor'" in out
    assert names(out, mini_index) == {"pkg.core.Motor": "class"}


def test_module_not_found_inside_the_package(mini_repo, mini_index):
    out = py(mini_repo, "import pkg.helpers")
    assert names(out, mini_index) == {"pkg.helpers": "module"}


def test_module_attribute_error(mini_repo, mini_index):
    out = py(mini_repo, "import pkg.util\npkg.util.slugify_all('x')")
    assert names(out, mini_index) == {"pkg.util.slugify_all": "symbol"}


def test_object_and_type_attribute_errors(mini_repo, mini_index):
    out = py(mini_repo, "from pkg.core import Engine\nEngine(1).halt()")
    assert names(out, mini_index) == {"Engine.halt": "method"}
    out = py(mini_repo, "from pkg.core import Engine\nEngine.create()")
    assert names(out, mini_index) == {"Engine.create": "method"}


def test_name_error_for_an_invented_name(mini_repo, mini_index):
    out = py(mini_repo, "slugify_everything('x')")
    assert names(out, mini_index) == {"slugify_everything": "symbol"}


def test_name_error_for_a_name_the_repo_has_is_a_missing_import(mini_repo, mini_index):
    out = py(mini_repo, "slugify('x')")
    assert "NameError" in out
    assert names(out, mini_index) == {}


def test_missing_third_party_module_is_the_environment_not_the_repo(mini_repo, mini_index):
    out = py(mini_repo, "import requests_nonexistent_pkg_xyz")
    assert names(out, mini_index) == {"requests_nonexistent_pkg_xyz": "module"}
    fake = "ModuleNotFoundError: No module named 'dateutil'"
    assert names(fake, mini_index) == {}  # a declared dependency that is not installed


def test_attribute_errors_on_builtin_types_are_not_about_the_repo(mini_repo, mini_index):
    out = py(mini_repo, "'x'.frobnicate()")
    assert "'str' object has no attribute" in out
    assert names(out, mini_index) == {}


@pytest.mark.parametrize(
    "cmd",
    [
        ("cat", "pkg/motor.py"),
        ("ls", "pkg/motor.py"),
        ("sed", "-n", "1p", "pkg/motor.py"),
        ("grep", "x", "pkg/motor.py"),
        (sys.executable, "pkg/motor.py"),
        (sys.executable, "-c", "open('pkg/motor.py')"),
    ],
)
def test_missing_files_from_shell_and_python(mini_repo, mini_index, cmd):
    out = run(mini_repo, *cmd)
    assert names(out, mini_index) == {"pkg/motor.py": "path"}


def test_a_file_the_repo_has_elsewhere_is_not_missing(mini_repo, mini_index):
    out = run(mini_repo, "cat", "core.py")  # wrong directory, real file
    assert names(out, mini_index) == {}


def test_paths_outside_the_repo_are_ignored(mini_repo, mini_index):
    out = run(mini_repo, "cat", "/nonexistent/elsewhere.txt")
    assert names(out, mini_index) == {}


def test_sandbox_paths_are_mapped_into_the_repo(mini_index):
    out = "python: can't open file '/workspace/pkg/motor.py': [Errno 2] No such file or directory"
    assert names(out, mini_index) == {"pkg/motor.py": "path"}
    ok = "python: can't open file '/workspace/pkg/core.py': [Errno 2] No such file or directory"
    assert names(ok, mini_index) == {}


def test_pytest_reports_for_missing_files_and_tests(mini_repo, mini_index):
    out = run(mini_repo, sys.executable, "-m", "pytest", "-q", "tests/test_nope.py")
    assert names(out, mini_index) == {"tests/test_nope.py": "path"}
    out = run(mini_repo, sys.executable, "-m", "pytest", "-q", "tests/test_core.py::test_fly")
    assert names(out, mini_index) == {"tests/test_core.py::test_fly": "function"}


def test_each_name_is_reported_once(mini_index):
    out = "NameError: name 'zap' is not defined\n" * 3
    assert len(missing_from_failure(out, mini_index)) == 1
