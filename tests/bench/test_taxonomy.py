"""The failure taxonomy: one primary cause per failed run, from its trajectory."""

from __future__ import annotations

import pytest

from agent.types import ExitStatus, Observation, Step, Task, ToolCall, Trajectory, Verification
from bench.taxonomy import bug_sites, classify, step_counts

GOLD = """\
diff --git a/src/ledger/money.py b/src/ledger/money.py
--- a/src/ledger/money.py
+++ b/src/ledger/money.py
@@ -40,3 +40,3 @@ class Money:
     def __add__(self, other):
-        return Money(self.amount - other.amount, self.currency)
+        return Money(self.amount + other.amount, self.currency)
"""
SITES = [("src/ledger/money.py", "return Money(self.amount - other.amount, self.currency)")]


def step(index: int, name: str | None = None, ok: bool = True, **kw) -> Step:
    args = kw.pop("args", {})
    return Step(index=index, message="…", action=ToolCall(name=name, arguments=args) if name else None,
                observation=Observation(text="…", ok=ok) if name else None, **kw)  # fmt: skip


def run(steps: list[Step], exit_status=ExitStatus.STEP_LIMIT, passed: bool | None = None):
    return Trajectory(
        run_id="r", task=Task(id="t", repo="/r", problem_statement="…"), repo_id="ledger",
        model_id="m", backend="fake", steps=steps, exit_status=exit_status,
        verification=None if passed is None else Verification(command="pytest", passed=passed),
    )  # fmt: skip


def edit(index: int, old: str, ok: bool = True) -> Step:
    return step(index, "edit", ok, args={"path": "src/ledger/money.py", "old": old, "new": "x"})


def test_bug_sites_are_the_lines_the_gold_patch_removes():
    assert bug_sites(GOLD) == SITES
    assert bug_sites(None) == [] and bug_sites("") == []


def test_a_verified_run_has_no_cause():
    assert classify(run([edit(0, "anything")], ExitStatus.SUBMITTED, passed=True), SITES) is None


def test_submitting_a_failing_tree_is_premature():
    trajectory = run([edit(0, "return Money(self.amount - other.amount, self.currency)")],
                     ExitStatus.SUBMITTED, passed=False)  # fmt: skip
    assert classify(trajectory, SITES) == "premature submit"


@pytest.mark.parametrize(
    ("steps", "cause"),
    [
        # Replies that never parse, and an edit the tool refused: malformed.
        (
            [
                step(0, format_error="no action"),
                step(1, format_error="no action"),
                edit(2, "nope", ok=False),
            ],
            "malformed",
        ),
        # The loop guard resampling repeats dominates: repetition.
        (
            [
                step(0, "view", args={"path": "a"}),
                step(1, "view", args={"path": "a"}, repeat_of=0),
                step(2, "view", notes=["loop guard: 3 repeats resampled"]),
            ],
            "repetition",
        ),
        # Looked around and never edited, without repeats or bad replies.
        ([step(0, "view", args={"path": "src/ledger/money.py"})], "wrong location"),
        # An applied edit of another line.
        ([edit(0, "def __sub__(self, other):")], "wrong location"),
        # An applied edit that rewrote the buggy line, and still fails.
        (
            [edit(0, "        return Money(self.amount - other.amount, self.currency)\n")],
            "wrong edit",
        ),
    ],
)
def test_the_primary_cause_of_a_run_that_stopped(steps, cause):
    assert classify(run(steps), SITES) == cause


def test_an_edit_by_the_harness_is_not_the_models():
    harness = edit(0, "return Money(self.amount - other.amount, self.currency)")
    harness.actor = "harness"
    assert step_counts(run([harness]))["edits_applied"] == 0
    assert classify(run([harness]), SITES) == "wrong location"


def test_without_a_known_site_an_applied_edit_is_a_wrong_edit():
    assert classify(run([edit(0, "anything")]), []) == "wrong edit"
