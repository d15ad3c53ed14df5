"""run_tests (the tool): lenient ids and a short summary for the model."""

import pytest

from tests.tools.conftest import RICH_PYTEST, call
from tools.base import ToolContext
from tools.run_tests import render_run, split_ids
from tools.types import TestOutcome, TestRun


@pytest.mark.docker
def test_all_passing_is_one_line(docker_box):
    result = call(docker_box, "run_tests")
    assert result.ok and result.text.startswith("All 2 tests passed (pytest,")


@pytest.mark.docker
def test_failures_are_listed_with_their_messages(make_box):
    result = call(make_box(RICH_PYTEST), "run_tests")
    lines = result.text.splitlines()
    assert not result.ok and lines[0].startswith(
        "4 passed, 3 failed, 2 errors, 1 skipped, 1 xfailed"
    )
    assert lines[1].startswith("ERROR tests/test_broken_import.py (could not be collected")
    assert "FAILED tests/test_rich.py::test_fail" in lines
    assert any("arithmetic is broken" in line for line in lines)


@pytest.mark.docker
def test_a_bare_file_name_finds_the_test_file(docker_box):
    result = call(docker_box, "run_tests", tests="test_cart.py")
    assert result.text.startswith("All 2 selected tests passed")


@pytest.mark.docker
def test_a_dotted_id_is_translated_for_pytest(docker_box):
    result = call(docker_box, "run_tests", tests="tests.test_cart.test_total")
    assert result.text.startswith("All 1 selected test passed")


@pytest.mark.docker
def test_a_missing_file_is_answered_before_running(docker_box):
    result = call(docker_box, "run_tests", tests="tests/test_basket.py")
    assert result.error_kind == "not_found" and "tests/test_cart.py" in result.text


@pytest.mark.docker
def test_a_missing_test_name_is_not_found_with_a_hint(docker_box):
    result = call(docker_box, "run_tests", tests="tests/test_cart.py::test_nope")
    assert result.error_kind == "not_found" and "No tests ran" in result.text
    assert "Check the name with search" in result.text


@pytest.mark.docker
def test_discovery_is_cached_for_the_run(docker_box):
    ctx = ToolContext(docker_box)
    call(docker_box, "run_tests", ctx, tests="tests/test_cart.py")
    assert ctx.state["test_plan"].source == "pyproject.toml [tool.pytest.ini_options]"


def test_ids_are_split_on_lines_spaces_and_commas():
    text = "tests/a.py::t1, tests/b.py\n`tests/c.py::t[x y]`\n/workspace/tests/d.py"
    assert split_ids(text) == ["tests/a.py::t1", "tests/b.py", "tests/c.py::t[x y]", "tests/d.py"]


def test_summary_caps_the_failures_shown_and_names_the_rest():
    outcomes = [
        TestOutcome(test_id=f"t.py::test_{i}", status="failed", message="boom") for i in range(12)
    ]
    run = TestRun.build(command="pytest", outcomes=outcomes, exit_code=1, source="pytest.ini")
    text = render_run(run, shown=3, limit=3000, selected=False)
    assert text.count("FAILED ") == 3 and "[9 more failing tests: t.py::test_3" in text


def test_summary_of_a_run_that_never_started_shows_the_output():
    run = TestRun.build(command="pytest", exit_code=4, output_tail="ERROR: usage: bad option")
    assert "No tests ran (exit code 4" in render_run(run, 5, 3000, False)
    assert "bad option" in render_run(run, 5, 3000, False)


def test_summary_respects_the_output_limit():
    outcomes = [
        TestOutcome(test_id=f"t.py::test_{i}", status="failed", message="x" * 300)
        for i in range(40)
    ]
    run = TestRun.build(command="pytest", outcomes=outcomes, exit_code=1)
    assert len(render_run(run, 40, 1000, False)) < 1100


@pytest.mark.docker
def test_a_custom_test_command_runs_everything_and_says_so(make_box):
    box = make_box({"runtests.py": "print('3 checks ok')\n"})
    ctx = ToolContext(box, test_command="python3 runtests.py")
    result = call(box, "run_tests", ctx, tests="tests/test_x.py")
    assert result.ok and "cannot select tests" in result.text and "3 checks ok" in result.text
    assert result.text.startswith("python3 runtests.py passed (exit code 0")
