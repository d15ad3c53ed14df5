"""run_test_suite: real pytest (7.2, in the image) and unittest in the Docker sandbox."""

import pytest

from tests.tools.conftest import RICH_EXPECTED, RICH_PYTEST, SHOP, UNITTEST_EXPECTED, UNITTEST_ONLY
from tools.testing import discover_tests, run_test_suite

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def rich_run(request, tmp_path_factory):
    from tests.conftest import make_git_repo
    from tests.tools.conftest import open_sandbox

    request.getfixturevalue("sandbox_image")
    where = tmp_path_factory.mktemp("rich")
    with open_sandbox("docker", make_git_repo(where / "repo", RICH_PYTEST), where) as box:
        yield run_test_suite(box), box


def test_pytest_outcomes_have_node_ids_and_statuses(rich_run):
    run, _ = rich_run
    assert {o.test_id: o.status for o in run.outcomes} == RICH_EXPECTED


def test_pytest_collection_error_is_reported_with_its_cause(rich_run):
    run, _ = rich_run
    (error,) = run.collection_errors
    assert error.test_id == "tests/test_broken_import.py"
    assert "ModuleNotFoundError" in error.message and "does_not_exist_anywhere" in error.message


def test_pytest_counts_exit_code_and_command(rich_run):
    run, _ = rich_run
    assert (run.passed, run.failed, run.errors, run.skipped, run.xfailed) == (4, 3, 2, 1, 1)
    assert run.exit_code == 1 and not run.ok and "-m pytest" in run.command


def test_failure_message_is_short_with_location(rich_run):
    run, _ = rich_run
    message = next(o.message for o in run.outcomes if o.test_id.endswith("::test_fail"))
    assert "arithmetic is broken" in message and message.endswith("(tests/test_rich.py:9)")
    assert len(message) < 500


def test_results_do_not_touch_the_workspace(rich_run):
    _, box = rich_run
    status = box.execute("git status --porcelain --untracked-files=all").output
    assert "junit" not in status and "xml" not in status


def test_selected_ids_run_only_those(rich_run):
    _, box = rich_run
    run = run_test_suite(
        box, ["tests/test_rich.py::test_param[2]", "tests/test_rich.py::TestGroup"]
    )
    assert {o.test_id: o.status for o in run.outcomes} == {
        "tests/test_rich.py::test_param[2]": "failed",
        "tests/test_rich.py::TestGroup::test_inner": "passed",
        "tests/test_rich.py::TestGroup::TestNested::test_deep": "passed",
    }


def test_a_passing_suite_is_ok(make_box):
    run = run_test_suite(make_box(SHOP))
    assert run.ok and run.passed == 2 and run.source == "pyproject.toml [tool.pytest.ini_options]"


def test_unittest_only_repo_runs_under_unittest(make_box):
    box = make_box(UNITTEST_ONLY)
    run = run_test_suite(box)
    assert run.framework == "unittest"
    assert {o.test_id: o.status for o in run.outcomes} == UNITTEST_EXPECTED


def test_unittest_collection_error_and_messages(make_box):
    run = run_test_suite(make_box(UNITTEST_ONLY))
    (error,) = run.collection_errors
    assert error.test_id == "test_broken" and "nothing_here_at_all" in error.message
    wrong = next(o for o in run.outcomes if o.test_id.endswith("test_wrong"))
    assert "AssertionError: 4 != 5" in wrong.message and "tests/test_calc.py:" in wrong.message


def test_unittest_selection_accepts_pytest_style_ids_and_files(make_box):
    box = make_box(UNITTEST_ONLY)
    run = run_test_suite(
        box, ["tests/test_calc.py::TestAdd::test_ok", "test_calc.TestAdd.test_wrong"]
    )
    assert {o.test_id: o.status for o in run.outcomes} == {
        "test_calc.TestAdd.test_ok": "passed",
        "test_calc.TestAdd.test_wrong": "failed",
    }


def test_addopts_needing_a_missing_plugin_are_dropped_and_said(make_box):
    files = {**SHOP, "pytest.ini": "[pytest]\naddopts = --cov=shop\npythonpath = src\n"}
    run = run_test_suite(make_box(files))
    assert run.passed == 2 and "addopts were dropped" in run.source


def test_tox_command_supplies_the_test_paths(make_box):
    files = {
        "tox.ini": "[testenv]\ndeps = pytest\ncommands = pytest tests/unit --cov=pkg {posargs}\n",
        "tests/unit/test_a.py": "def test_a():\n    assert True\n",
        "tests/slow/test_b.py": "def test_b():\n    assert False\n",
    }
    box = make_box(files)
    assert discover_tests(box).args == ["tests/unit"]
    run = run_test_suite(box)
    assert [o.test_id for o in run.outcomes] == ["tests/unit/test_a.py::test_a"] and run.ok


def test_timeout_is_reported(make_box):
    box = make_box({"tests/test_slow.py": "import time\n\ndef test_slow():\n    time.sleep(60)\n"})
    run = run_test_suite(box, timeout=3)
    assert run.timed_out and not run.ok and run.duration_s < 20


def test_task_command_overrides_discovery(make_box):
    box = make_box(SHOP)
    run = run_test_suite(box, command="python3 -m pytest tests/test_cart.py -k total")
    assert [o.test_id for o in run.outcomes] == ["tests/test_cart.py::test_total"]
    assert run.source == "the task's test command"


def test_unittest_runs_in_the_local_sandbox_too(make_box):
    run = run_test_suite(make_box(UNITTEST_ONLY, "local"))
    assert {o.test_id: o.status for o in run.outcomes} == UNITTEST_EXPECTED
