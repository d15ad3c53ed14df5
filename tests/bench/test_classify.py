"""The keep/discard rule for a mutated tree's suite run (pure: built TestRun objects)."""

from __future__ import annotations

from bench.validation import Baseline, classify
from tools.testing.discovery import TestPlan
from tools.types import TestOutcome, TestRun

BASE = Baseline(
    plan=TestPlan(framework="pytest", source="test"),
    passing=["t::a", "t::b", "t::c", "t::d"], not_passing=["t::flaky"],
    duration_s=1.0, command="pytest",
)  # fmt: skip


def run(statuses: dict[str, str], **kw) -> TestRun:
    outcomes = [TestOutcome(test_id=t, status=s) for t, s in statuses.items()]
    return TestRun.build(command="pytest", outcomes=outcomes, exit_code=1, **kw)


def test_kept_when_some_tests_flip_and_the_rest_pass():
    status, failing, _ = classify(run({"t::a": "failed", "t::b": "passed", "t::c": "passed",
                                       "t::d": "passed", "t::flaky": "failed"}), BASE, 0.5)  # fmt: skip
    assert (status, failing) == ("kept", ["t::a"])


def test_errors_and_missing_tests_count_as_failing():
    status, failing, _ = classify(run({"t::a": "error", "t::c": "passed", "t::d": "passed"}),
                                  BASE, 0.75)  # fmt: skip
    assert (status, failing) == ("kept", ["t::a", "t::b"])


def test_survived_when_nothing_fails():
    statuses = {t: "passed" for t in BASE.passing}
    assert classify(run(statuses), BASE, 0.5)[0] == "survived"


def test_a_test_failing_before_does_not_count():
    statuses = {**{t: "passed" for t in BASE.passing}, "t::flaky": "failed"}
    assert classify(run(statuses), BASE, 0.5)[0] == "survived"


def test_too_broad_when_most_of_the_suite_breaks():
    statuses = {"t::a": "failed", "t::b": "failed", "t::c": "failed", "t::d": "passed"}
    assert classify(run(statuses), BASE, 0.5)[0] == "too_broad"


def test_timeout_collection_error_and_no_report_are_discarded():
    assert classify(run({}, timed_out=True), BASE, 0.5)[0] == "timeout"
    broken = run({"t::a": "passed"},
                 collection_errors=[TestOutcome(test_id="t.py", status="error", message="boom")])  # fmt: skip
    assert classify(broken, BASE, 0.5)[0] == "collection_error"
    assert classify(run({}), BASE, 0.5)[0] == "no_report"
