"""Resume after a kill between any two nodes; fork restoring files and conversation."""

import os
import signal
import subprocess
import sys
import textwrap
import warnings

import pytest

from agent.types import ExitStatus
from tests.agent.graph.conftest import FIX, HAPPY, SUBMIT, TEST, VIEW

warnings.filterwarnings("ignore", category=UserWarning, module="sandboxes.local")


class Killed(BaseException):
    """Stands in for the process dying: nothing after the raise runs."""


def kill_at(node: str, occurrence: int):
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == node:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise Killed(f"{node}#{occurrence}")

    return hook


# Every boundary of the happy path: before each node of each step, and before verify.
KILL_POINTS = [("call_model", 1), ("monitor", 1), ("act", 1), ("call_model", 2), ("act", 2),
               ("monitor", 3), ("act", 3), ("act", 4), ("verify", 1)]  # fmt: skip


@pytest.mark.parametrize(("node", "occurrence"), KILL_POINTS)
def test_resume_after_a_kill_between_nodes_finishes_like_an_uninterrupted_run(
    harness, node, occurrence
):
    h = harness()
    with pytest.raises(Killed):
        h.run(list(HAPPY), before_node=kill_at(node, occurrence))
    run_id = h.runner.store.run_ids()[-1]
    # Replies already generated are in the checkpoint (a pending step included); the rest
    # is what a restarted model says next.
    remaining = list(HAPPY)[len(h.backend.calls) :]
    t = h.runner.resume(run_id, h.handles(remaining))
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed
    assert [s.action.name for s in t.steps] == ["view", "edit", "run_tests", "submit"]
    assert "return a + b" in t.final_diff


def test_resume_after_sigkill_of_a_real_process(harness, tmp_path):
    """The run is driven in a child process that is SIGKILLed while a tool runs."""
    h = harness()
    marker = tmp_path / "in-act"
    # Slow the first time only: on resume the interrupted step runs again, quickly.
    slow = f"Slow tests.\n```bash\nif [ ! -e {marker} ]; then touch {marker}; sleep 30; fi\n```"
    script = textwrap.dedent(f"""
        import sys
        from tests.agent.graph.conftest import Harness
        from agent.types import Task
        from pathlib import Path
        task = Task.model_validate_json(Path({str(tmp_path / "task.json")!r}).read_text())
        h = Harness(Path(task.repo), task, "local")
        h.run([{VIEW!r}, {FIX!r}, {slow!r}])
    """)
    (tmp_path / "task.json").write_text(h.task.model_dump_json())
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(1200):
            if marker.exists() or child.poll() is not None:
                break
            import time

            time.sleep(0.1)
        assert marker.exists(), "the child never reached the slow step"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    run_id = h.runner.store.run_ids()[-1]
    partial = h.runner.store.load(run_id)
    assert partial.exit_status is None and [s.action.name for s in partial.steps] == [
        "view",
        "edit",
    ]
    t = h.runner.resume(run_id, h.handles([TEST, SUBMIT]))
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed
    # The step in flight when the process died ran again on resume; nothing was lost.
    assert [s.action.name for s in t.steps] == ["view", "edit", "bash", "run_tests", "submit"]


def test_resume_of_a_finished_run_is_refused(harness):
    h = harness()
    t = h.run(list(HAPPY))
    from agent.run import RunError

    with pytest.raises(RunError, match="already finished"):
        h.runner.resume(t.run_id, h.handles([]))


def test_fork_restores_files_and_conversation_at_the_step(harness):
    h = harness()
    original = h.run([VIEW, FIX, TEST, SUBMIT])
    # Fork after step 1 (the view): the fix must not be in the files or the conversation.
    other = "Check the tests first.\n```view\npath: tests/test_core.py\n```"
    forked = h.runner.fork(original.run_id, 1, h.handles([other, FIX, TEST, SUBMIT]))
    assert forked.parent_run == original.run_id and forked.forked_at == 1
    assert [s.action.name for s in forked.steps] == ["view", "view", "edit", "run_tests", "submit"]
    first_prompt = h.backend.calls[0][0]
    text = "\n".join(m.content for m in first_prompt)
    assert "pkg/core.py" in text and "return a + b" not in text
    assert forked.exit_status == ExitStatus.SUBMITTED and forked.verification.passed


def test_fork_at_zero_starts_over_from_the_base_files(harness):
    h = harness()
    original = h.run([VIEW, FIX, TEST, SUBMIT])
    forked = h.runner.fork(original.run_id, 2, h.handles([TEST, SUBMIT]))
    assert forked.steps[2].observation.ok  # the tests pass: the fork has step 1's edit
    again = h.runner.fork(original.run_id, 0, h.handles([TEST, FIX, TEST, SUBMIT]))
    assert not again.steps[0].observation.ok  # from the base: the bug is back
