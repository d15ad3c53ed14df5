"""The FAIL_TO_PASS / PASS_TO_PASS rule on test runs (pure logic)."""

from agent.verify import grade, selection
from tools.types import TestOutcome, TestRun


def run(**statuses: str) -> TestRun:
    outcomes = [TestOutcome(test_id=k.replace("__", "::"), status=v) for k, v in statuses.items()]
    return TestRun.build(command="pytest", outcomes=outcomes, exit_code=1)


def test_all_fail_to_pass_pass_and_no_pass_to_pass_breaks():
    v = grade(run(t__a="passed", t__b="passed"), ["t::a"], ["t::b"])
    assert v.passed and v.fail_to_pass_ok and v.pass_to_pass_ok


def test_a_broken_pass_to_pass_fails_the_run():
    v = grade(run(t__a="passed", t__b="failed"), ["t::a"], ["t::b"])
    assert (
        not v.passed and v.fail_to_pass_ok and not v.pass_to_pass_ok and "broken: t::b" in v.summary
    )


def test_a_listed_test_that_did_not_run_counts_as_failed():
    v = grade(run(t__a="passed"), ["t::a", "t::gone"], [])
    assert not v.passed and "still failing: t::gone" in v.summary


def test_ids_match_exactly_not_by_suffix():
    v = grade(run(**{"tests/x.py__test_a": "passed"}), ["test_a"], [])
    assert not v.passed


def test_without_lists_the_whole_suite_must_pass_and_something_must_run():
    assert grade(run(t__a="passed"), [], []).passed
    assert not grade(run(t__a="passed", t__b="error"), [], []).passed
    assert not grade(TestRun.build(command="pytest", exit_code=5), [], []).passed


def test_selection_runs_files_of_node_ids_once():
    ids = ["tests/a.py::t1", "tests/a.py::t2[x]", "tests/b.py::C::t", "pkg.tests.test_c.T.test"]
    assert selection(ids) == ["tests/a.py", "tests/b.py", "pkg.tests.test_c.T.test"]
