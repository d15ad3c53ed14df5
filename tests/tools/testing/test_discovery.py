"""discover_tests: how a repository runs its tests, read from its files (nothing runs)."""

import pytest

from tests.tools.conftest import SHOP, UNITTEST_ONLY
from tools.testing import discover_tests

A_TEST = {"tests/test_a.py": "def test_a():\n    assert True\n"}


def plan_for(make_box, files):
    return discover_tests(make_box(files, "local"))


@pytest.mark.parametrize(
    ("config", "source"),
    [
        ({"pytest.ini": "[pytest]\n"}, "pytest.ini"),
        ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"},
         "pyproject.toml [tool.pytest.ini_options]"),
        ({"pyproject.toml": "[tool.pytest]\nminversion = '9'\n"}, "pyproject.toml [tool.pytest]"),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = tests\n"}, "setup.cfg [tool:pytest]"),
        ({"tox.ini": "[pytest]\ntestpaths = tests\n"}, "tox.ini [pytest]"),
        ({"conftest.py": ""}, "conftest.py"),
        ({"tests/conftest.py": ""}, "tests/conftest.py"),
    ],
)  # fmt: skip
def test_pytest_configuration_is_found(make_box, config, source):
    plan = plan_for(make_box, {**A_TEST, **config})
    assert (plan.framework, plan.source) == ("pytest", source)


def test_pyproject_without_pytest_table_is_not_pytest_config(make_box):
    plan = plan_for(make_box, {**UNITTEST_ONLY, "pyproject.toml": "[project]\nname = 'x'\n"})
    assert plan.framework == "unittest"


def test_unittest_style_files_without_config_use_unittest(make_box):
    plan = plan_for(make_box, UNITTEST_ONLY)
    assert (plan.framework, plan.start_dir, plan.top_dir) == ("unittest", "tests", "tests")


def test_unittest_tests_package_is_discovered_from_the_root(make_box):
    plan = plan_for(make_box, {**UNITTEST_ONLY, "tests/__init__.py": ""})
    assert (plan.start_dir, plan.top_dir) == ("tests", ".")


def test_pytest_style_files_without_config_use_pytest(make_box):
    plan = plan_for(make_box, A_TEST)
    assert (plan.framework, plan.source) == ("pytest", "test files written for pytest")


def test_tox_unittest_command_is_used(make_box):
    files = {
        **UNITTEST_ONLY,
        "tox.ini": "[testenv]\ncommands = python -m unittest discover -s tests -p 'test_*.py'\n",
    }
    plan = plan_for(make_box, files)
    assert (plan.framework, plan.start_dir, plan.pattern) == ("unittest", "tests", "test_*.py")
    assert plan.source == "tox.ini [testenv] commands"


def test_tox_pytest_command_keeps_only_selection(make_box):
    files = {
        **A_TEST,
        "tox.ini": "[testenv]\ncommands =\n    pytest -n 4 --cov pkg -m 'not slow' tests {posargs}\n",
    }
    assert plan_for(make_box, files).args == ["-m", "not slow", "tests"]


def test_noxfile_session_run_is_read_not_executed(make_box):
    files = {
        **A_TEST,
        "noxfile.py": "import nox\n\n@nox.session\ndef tests(session):\n"
        "    session.install('pytest')\n    session.run('pytest', 'tests', '--maxfail=1')\n",
    }
    plan = plan_for(make_box, files)
    assert (plan.framework, plan.args, plan.source) == (
        "pytest",
        ["tests"],
        "noxfile.py session.run",
    )


def test_src_layout_puts_src_on_the_path(make_box):
    assert plan_for(make_box, SHOP).pythonpath == ["src"]


def test_custom_script_command_is_kept_as_is(make_box):
    files = {**A_TEST, "tox.ini": "[testenv]\ncommands = python runtests.py --fast\n"}
    plan = plan_for(make_box, files)
    assert (plan.framework, plan.command) == ("custom", "python runtests.py --fast")


def test_empty_repository_defaults_to_pytest_and_says_why(make_box):
    plan = plan_for(make_box, {"README.md": "hi\n"})
    assert plan.framework == "pytest" and "no test" in plan.source
