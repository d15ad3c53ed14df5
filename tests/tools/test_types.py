"""TestOutcome / TestRun: the shared result models."""

import pytest
from pydantic import ValidationError

from tools.types import TestOutcome, TestRun


def test_status_follows_passed():
    assert TestOutcome(test_id="t", passed=False).status == "failed"


def test_passed_follows_status():
    assert TestOutcome(test_id="t", status="xfailed").passed is True
    assert TestOutcome(test_id="t", status="skipped").passed is False


def test_contradiction_is_rejected():
    with pytest.raises(ValidationError):
        TestOutcome(test_id="t", passed=True, status="failed")


def test_round_trip_through_json():
    outcome = TestOutcome(test_id="t", status="error", message="boom")
    assert TestOutcome.model_validate_json(outcome.model_dump_json()) == outcome


def test_build_derives_counts():
    statuses = ["passed", "xpassed", "failed", "error", "skipped", "xfailed"]
    run = TestRun.build(
        command="pytest", exit_code=1,
        outcomes=[TestOutcome(test_id=s, status=s) for s in statuses],
        collection_errors=[TestOutcome(test_id="m.py", status="error")],
    )  # fmt: skip
    assert (run.passed, run.failed, run.errors, run.skipped, run.xfailed) == (2, 1, 2, 1, 1)


def test_ok_needs_a_clean_exit_and_some_tests():
    assert TestRun.build(
        command="x", exit_code=0, outcomes=[TestOutcome(test_id="t", passed=True)]
    ).ok
    assert not TestRun.build(command="x", exit_code=0).ok
    assert not TestRun.build(command="x", exit_code=0, timed_out=True).ok


def test_status_of_a_test_that_did_not_run_is_none():
    run = TestRun.build(command="x", exit_code=0, outcomes=[TestOutcome(test_id="a", passed=True)])
    assert (run.status_of("a"), run.status_of("b"), run.passed_test("b")) == ("passed", None, False)


def test_agent_types_reexports_the_same_models():
    import agent.types

    assert agent.types.TestOutcome is TestOutcome and agent.types.TestRun is TestRun
