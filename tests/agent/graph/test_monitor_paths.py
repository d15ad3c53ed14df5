"""Resample and rollback, driven by a scripted monitor inside the real graph."""

import warnings

from agent.monitor import ScriptedMonitor
from agent.types import Decision, ExitStatus, ProbeReading
from tests.agent.graph.conftest import BUGGY, FIX, HAPPY, SUBMIT, TEST, VIEW

warnings.filterwarnings("ignore", category=UserWarning, module="sandboxes.local")
BAD_EDIT = (
    "Replace the whole function.\n```edit\npath: pkg/core.py\n<<<<<<< SEARCH\n"
    "def mul(a, b):\n=======\ndef multiply(a, b):\n>>>>>>> REPLACE\n```"
)


def reading(decision, step=0.1, prefix=0.1):
    return lambda item: ProbeReading(decision=decision, step_score=step, prefix_score=prefix,
                                     step_threshold=0.5, prefix_threshold=0.5, reason="scripted")  # fmt: skip


def test_resample_drops_the_step_before_it_runs(harness):
    h = harness()
    monitor = ScriptedMonitor([Decision.ACCEPT, Decision.RESAMPLE])
    t = h.run([VIEW, BAD_EDIT, FIX, TEST, SUBMIT], monitor=monitor)
    dropped = t.steps[1]
    assert (
        dropped.resampled
        and dropped.observation is None
        and dropped.readings[-1].decision == "resample"
    )
    assert "multiply" not in t.final_diff  # it never ran
    assert t.exit_status == ExitStatus.SUBMITTED


def test_resample_budget_exhausted_ends_the_run(harness):
    h = harness(**{"agent.max_resamples": 1})
    monitor = ScriptedMonitor([Decision.RESAMPLE, Decision.RESAMPLE])
    t = h.run([VIEW, VIEW, VIEW], monitor=monitor)
    assert t.exit_status == ExitStatus.BUDGET_EXHAUSTED
    assert all(s.resampled for s in t.steps)


def test_rollback_restores_files_and_conversation_to_the_last_safe_step(harness):
    h = harness()
    monitor = ScriptedMonitor([
        reading(Decision.ACCEPT),                    # step 0 view: safe
        reading(Decision.ACCEPT, prefix=0.7),        # step 1 bad edit: prefix already high
        reading(Decision.ROLLBACK, prefix=0.9),      # step 2: alarm → roll back
    ])  # fmt: skip
    t = h.run([VIEW, BAD_EDIT, TEST, FIX, TEST, SUBMIT], monitor=monitor)
    assert t.steps[1].rolled_back and t.steps[1].action.name == "edit"
    assert t.steps[2].rolled_back and t.steps[2].observation is None  # the alarm step never ran
    assert "multiply" not in t.final_diff and "return a + b" in t.final_diff
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed
    # The next prompt no longer shows the undone edit, and tells the model why.
    prompt = h.backend.calls[3][0]
    text = "\n".join(m.content for m in prompt)
    assert "def multiply" not in text and "undone" in text


def test_rollback_with_no_safe_step_goes_back_to_the_base(harness, buggy_repo):
    h = harness()
    monitor = ScriptedMonitor([reading(Decision.ACCEPT, prefix=0.8),
                               reading(Decision.ROLLBACK, prefix=0.9)])  # fmt: skip
    t = h.run([FIX, VIEW, VIEW, SUBMIT, FIX, SUBMIT], monitor=monitor)
    assert t.steps[0].rolled_back
    assert t.steps[2].action.name == "view" and not t.steps[2].rolled_back
    # The fix had been undone, so the first submit was refused as empty.
    assert t.steps[3].observation.error_kind == "refused"
    assert t.exit_status == ExitStatus.SUBMITTED


def test_rollback_budget_exhausted_ends_the_run(harness):
    h = harness(**{"agent.max_rollbacks": 0})
    monitor = ScriptedMonitor([Decision.ACCEPT, Decision.ROLLBACK])
    t = h.run([VIEW, FIX], monitor=monitor)
    assert t.exit_status == ExitStatus.BUDGET_EXHAUSTED


def test_every_reading_is_recorded_in_the_trajectory(harness):
    h = harness()
    t = h.run(list(HAPPY), monitor=ScriptedMonitor([Decision.ACCEPT] * 4))
    assert all(len(s.readings) == 1 and s.readings[0].reason == "scripted accept" for s in t.steps)
    assert (h.repo / "pkg/core.py").read_text() == BUGGY
