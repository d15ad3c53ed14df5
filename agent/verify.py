"""`verify`: the repository's tests on the final tree, in the run's sandbox.

With a task's FAIL_TO_PASS / PASS_TO_PASS (SWE-bench's meaning) their test files run and
the run passes when all of the first pass and none of the second fail — a listed test
that did not run counts as failed. Without them, the whole suite must run with no failure, no error and no
collection error. The bench grader applies the same rule (`grade`).

Not done here: a task's hidden `test_patch` is applied only by the bench grader, in a
fresh sandbox, so the run's own diff never contains it.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.types import Task, Verification
from sandboxes.base import Sandbox
from tools.testing.runner import run_test_suite
from tools.types import TestRun


def _status(run: TestRun, ids: Sequence[str]) -> tuple[bool, list[str]]:
    """(all passed, the ids that did not pass). Ids match exactly, as in SWE-bench; a
    listed test that did not run (renamed, deleted, its module broken) did not pass."""
    passed = {o.test_id for o in run.outcomes if o.passed}
    failing = [test_id for test_id in ids if test_id not in passed]
    return not failing, failing


def selection(ids: Sequence[str]) -> list[str]:
    """What to ask the runner for: the files of pytest node ids (one id that no longer
    exists would make pytest refuse the whole selection), other ids as they are."""
    chosen: list[str] = []
    for test_id in ids:
        head = test_id.split("::", 1)[0]
        item = head if "::" in test_id and head.endswith(".py") else test_id
        if item not in chosen:
            chosen.append(item)
    return chosen


def grade(run: TestRun, fail_to_pass: Sequence[str], pass_to_pass: Sequence[str]) -> Verification:
    """Turn a test run into a Verification under the FAIL_TO_PASS / PASS_TO_PASS rule."""
    if fail_to_pass or pass_to_pass:
        f2p_ok, f2p_bad = _status(run, fail_to_pass)
        p2p_ok, p2p_bad = _status(run, pass_to_pass)
        passed = f2p_ok and p2p_ok and not run.timed_out
        parts = [f"FAIL_TO_PASS {len(fail_to_pass) - len(f2p_bad)}/{len(fail_to_pass)} pass",
                 f"PASS_TO_PASS {len(pass_to_pass) - len(p2p_bad)}/{len(pass_to_pass)} pass"]  # fmt: skip
        if f2p_bad:
            parts.append("still failing: " + ", ".join(f2p_bad[:5]))
        if p2p_bad:
            parts.append("broken: " + ", ".join(p2p_bad[:5]))
    else:
        f2p_ok = p2p_ok = None
        bad = run.failed + run.errors + len(run.collection_errors)
        passed = bad == 0 and run.passed > 0 and not run.timed_out
        parts = [f"{run.passed} passed, {run.failed} failed, {run.errors} errors"]
        if run.collection_errors:
            parts.append(f"{len(run.collection_errors)} collection errors")
        if run.passed == 0 and bad == 0:
            parts.append("no tests ran")
    if run.timed_out:
        parts.append("timed out")
    return Verification(
        command=run.command, passed=passed, exit_code=run.exit_code, summary="; ".join(parts),
        outcomes=[*run.outcomes, *run.collection_errors], fail_to_pass_ok=f2p_ok,
        pass_to_pass_ok=p2p_ok, output_tail=run.output_tail, duration_s=run.duration_s,
    )  # fmt: skip


class TestVerifier:
    __test__ = False

    def __init__(self, sandbox: Sandbox, timeout: float = 600.0):
        self.sandbox = sandbox
        self.timeout = timeout

    def verify(self, task: Task) -> Verification:
        ids = [*task.fail_to_pass, *task.pass_to_pass]
        run = run_test_suite(
            self.sandbox, tests=ids, timeout=self.timeout, command=task.test_command
        )
        return grade(run, task.fail_to_pass, task.pass_to_pass)
