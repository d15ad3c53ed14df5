"""Each way a run ends, with the trajectory saved every time."""

import subprocess
import warnings

import pytest

from agent.backends.base import BackendError
from agent.types import ExitStatus
from memory.trajectories import TrajectoryStore
from tests.agent.graph.conftest import BUGGY, FIX, HAPPY, SUBMIT, TEST, VIEW

warnings.filterwarnings("ignore", category=UserWarning, module="sandboxes.local")


def saved(h, run_id):
    return TrajectoryStore(h.home.runs).load(run_id)


@pytest.mark.docker
def test_happy_path_in_docker_submits_verifies_and_publishes_a_branch(harness, buggy_repo):
    h = harness("docker")
    t = h.run(list(HAPPY))
    assert t.exit_status == ExitStatus.SUBMITTED
    assert (
        t.verification.passed and t.verification.fail_to_pass_ok and t.verification.pass_to_pass_ok
    )
    assert t.verified_by == "tests" and t.eligible_for_learning
    assert [s.action.name for s in t.steps] == ["view", "edit", "run_tests", "submit"]
    assert "+    return a + b" in t.final_diff
    # The user's checkout is untouched; the result is a branch in their repository.
    assert (buggy_repo / "pkg/core.py").read_text() == BUGGY
    assert subprocess.run(["git", "status", "--porcelain"], cwd=buggy_repo, capture_output=True,
                          text=True).stdout == ""  # fmt: skip
    shown = subprocess.run(["git", "show", f"{t.branch}:pkg/core.py"], cwd=buggy_repo,
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "return a + b" in shown
    assert saved(h, t.run_id).model_dump() == t.model_dump()
    assert (h.home.run_dir(t.run_id) / "patch.diff").read_text() == t.final_diff


def test_step_limit_ends_the_run_and_still_verifies(harness):
    h = harness(**{"agent.max_steps": 2})
    t = h.run([VIEW, "Look again.\n```view\npath: tests/test_core.py\n```", VIEW])
    assert t.exit_status == ExitStatus.STEP_LIMIT
    assert t.verification is not None and not t.verification.passed
    assert len(saved(h, t.run_id).steps) == 2


def test_token_limit(harness):
    h = harness(**{"agent.max_tokens": 50})
    t = h.run([VIEW, VIEW, VIEW])
    assert t.exit_status == ExitStatus.TOKEN_LIMIT


def test_time_limit(harness):
    h = harness(**{"agent.max_wall_s": 0.001})
    t = h.run([VIEW, FIX])
    assert t.exit_status == ExitStatus.TIME_LIMIT


def test_repeated_format_errors_end_the_run(harness):
    h = harness(**{"agent.max_format_errors": 3})
    t = h.run(["I think the bug is in add.", "Still thinking.", "```python\nreturn a + b\n```"])
    assert t.exit_status == ExitStatus.FORMAT_ERRORS
    assert all(s.format_error for s in t.steps) and len(t.steps) == 3


def test_a_malformed_reply_becomes_an_observation_and_the_run_goes_on(harness):
    h = harness()
    t = h.run(["no action here", *HAPPY])
    assert t.exit_status == ExitStatus.SUBMITTED
    first = t.steps[0]
    assert first.format_error and first.observation.error_kind == "format_error"
    # The model saw the error text as the result of its turn.
    second_prompt = h.backend.calls[1][0]
    assert any("no action" in m.content for m in second_prompt if m.role == "user")


def test_context_overflow(harness):
    h = harness(**{"model.context_tokens": 512, "model.max_new_tokens": 400})
    t = h.run([VIEW])
    assert t.exit_status == ExitStatus.CONTEXT_OVERFLOW


def test_empty_submit_is_refused_once(harness):
    h = harness()
    t = h.run([SUBMIT, FIX, TEST, SUBMIT])
    assert t.steps[0].observation.error_kind == "refused"
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed


def test_a_second_submit_on_an_unchanged_tree_is_not_run_when_tests_fail(harness):
    h = harness()
    t = h.run([SUBMIT, "Done.\n```submit\nmessage: it is fine\n```", FIX, TEST, SUBMIT])
    assert t.steps[0].observation.error_kind == "refused"
    assert t.steps[1].resampled and t.steps[1].repeat_of == 0 and t.steps[1].observation is None
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed


def test_a_second_submit_confirms_when_the_task_names_no_failing_test(harness, task):
    task.fail_to_pass.clear()
    h = harness()
    t = h.run([SUBMIT, SUBMIT])
    assert t.exit_status == ExitStatus.SUBMITTED and not t.steps[1].resampled


def test_backend_failure_saves_the_trajectory_and_propagates(harness):
    h = harness()
    with pytest.raises(BackendError):
        h.run([VIEW])  # the script runs out on the second call
    run_id = TrajectoryStore(h.home.runs).run_ids()[-1]
    t = saved(h, run_id)
    assert t.exit_status is None and [s.action.name for s in t.steps] == ["view"]


def test_repeat_of_an_unchanged_view_is_resampled_not_run(harness):
    h = harness()
    t = h.run([VIEW, VIEW, *HAPPY[1:]])
    assert t.steps[1].resampled and t.steps[1].repeat_of == 0
    assert t.steps[1].observation is None
    assert t.exit_status == ExitStatus.SUBMITTED
    # The resample asked for a hotter sample.
    assert h.backend.calls[2][2].temperature > h.backend.calls[1][2].temperature


def test_rerunning_tests_after_an_edit_is_not_a_repeat(harness):
    h = harness()
    t = h.run([TEST, FIX, TEST, SUBMIT])
    assert not any(s.resampled for s in t.steps)
