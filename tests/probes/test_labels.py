"""probes.labels on the bundled example repository (examples/ledger): real names, real
commands' failure output."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agent.types import ExitStatus, Observation, Step, Task, ToolCall, Trajectory, Verification
from probes.labels import CLEAN, HALLUCINATED, UNKNOWN, Labeler, label_code, render_action
from tests.conftest import REPO_ROOT

LEDGER = REPO_ROOT / "examples" / "ledger"


@pytest.fixture(scope="module")
def labeler():
    from tools.index import SymbolIndex

    if not (LEDGER / "src" / "ledger" / "money.py").is_file():
        pytest.fail(f"the bundled example repository is missing at {LEDGER}")
    return Labeler(SymbolIndex.build(LEDGER))


def run_in_ledger(*cmd: str) -> Observation:
    """Really run a command in the example repo; its failure becomes the observation."""
    env = {**os.environ, "PYTHONPATH": str(LEDGER / "src")}
    proc = subprocess.run(cmd, cwd=LEDGER, env=env, capture_output=True, text=True, timeout=60)
    return Observation(text=proc.stdout + proc.stderr, ok=proc.returncode == 0,
                       exit_code=proc.returncode)  # fmt: skip


def step(thought: str, name: str, args: dict, observation: Observation | None = None, **kw) -> Step:
    call = ToolCall(name=name, arguments=args)
    return Step(index=kw.pop("index", 0), message=f"{thought}\n{render_action(call)}",
                thought=thought, action=call, observation=observation, **kw)  # fmt: skip


def test_a_grounded_step_of_a_verified_run_is_clean(labeler):
    s = step("The parser lives in src/ledger/parser.py; `parse_journal` returns a `Journal`.",
             "view", {"path": "src/ledger/parser.py"}, Observation(text="1 ..."))  # fmt: skip
    label = labeler.label_step(s, verified=True)
    assert (label_code(label), label.source) == (CLEAN, "verified_run")


def test_a_grounded_step_of_a_failed_run_is_unknown(labeler):
    s = step("Let me read the money module.", "view", {"path": "src/ledger/money.py"})
    assert label_code(labeler.label_step(s, verified=False)) == UNKNOWN


def test_a_dropped_step_of_a_verified_run_is_unknown(labeler):
    s = step("Let me read the money module.", "view", {"path": "src/ledger/money.py"},
             resampled=True)  # fmt: skip
    assert label_code(labeler.label_step(s, verified=True)) == UNKNOWN


@pytest.mark.parametrize(
    ("thought", "name", "args", "missing"),
    [
        ("Amounts are parsed in the currency module.", "view",
         {"path": "src/ledger/currency.py"}, "src/ledger/currency.py"),
        ("`Money.from_cents` builds an amount from cents; I'll use it.", "view",
         {"path": "src/ledger/money.py"}, "Money.from_cents"),
        ("The fix belongs in the budget module.", "edit",
         {"path": "src/ledger/budget.py", "old": "x = 1", "new": "x = ledger.budget.rollover_all()"},
         "ledger.budget.rollover_all"),
    ],
)  # fmt: skip
def test_naming_what_the_repository_lacks_is_hallucinated(labeler, thought, name, args, missing):
    label = labeler.label_step(step(thought, name, args), verified=True)
    assert (label_code(label), label.source) == (HALLUCINATED, "grounding")
    assert any(missing in reason for reason in label.reasons)


def test_a_command_failing_on_an_invented_method_is_hallucinated(labeler):
    code = "from ledger.money import Money; print(Money.parse('$1.00').halve())"
    obs = run_in_ledger(sys.executable, "-c", code)
    assert "AttributeError" in obs.text
    s = step("Let me try the halving helper.", "bash", {"command": f'python -c "{code}"'}, obs)
    label = labeler.label_step(s, verified=True)
    assert (label_code(label), label.source) == (HALLUCINATED, "tool_failure")
    assert "Money.halve" in label.reasons[0]


def test_a_command_failing_on_a_missing_file_is_hallucinated(labeler):
    obs = run_in_ledger("cat", "src/ledger/currency.py")
    assert not obs.ok
    s = step("Print it.", "bash", {"command": "cat src/ledger/currency.py"}, obs)
    assert label_code(labeler.label_step(s, verified=False)) == HALLUCINATED


def test_a_failure_on_a_name_the_step_never_wrote_is_not_held_against_it(labeler):
    # A test suite failing on the task's bug names things the step did not write.
    obs = run_in_ledger(sys.executable, "-c", "from ledger.money import Money; Money.halve(1)")
    s = step("Run the tests.", "bash", {"command": "python -m pytest -q"}, obs)
    assert label_code(labeler.label_step(s, verified=True)) == CLEAN


def test_a_missing_import_of_a_real_name_is_not_hallucination(labeler):
    obs = run_in_ledger(sys.executable, "-c", "print(sum_money([], 'EUR'))")
    assert "NameError" in obs.text
    s = step("Sum them.", "bash", {"command": "python -c \"print(sum_money([], 'EUR'))\""}, obs)
    assert label_code(labeler.label_step(s, verified=True)) == CLEAN


def test_names_the_task_asks_for_are_excused(labeler):
    task = Task(id="t", repo=str(LEDGER), problem_statement="Add `Money.halve()`, rounding up.")
    code = "from ledger.money import Money; Money.parse('$1').halve()"
    s = step("Check halve.", "bash", {"command": f'python -c "{code}"'},
             run_in_ledger(sys.executable, "-c", code))  # fmt: skip
    label = labeler.label_step(s, verified=True, task=task)
    assert label_code(label) == UNKNOWN and "Money.halve" in label.reasons[0]


def test_a_statement_naming_a_file_does_not_excuse_every_invented_file(labeler):
    # Bench statements name the failing test's file; "py" is not a name the task asks for.
    task = Task(id="t", repo=str(LEDGER),
                problem_statement="tests/test_money.py::test_add fails.")  # fmt: skip
    s = step("The converter.", "view", {"path": "src/ledger/convert.py"},
             Observation(text="not found", ok=False, error_kind="not_found"))  # fmt: skip
    assert label_code(labeler.label_step(s, verified=False, task=task)) == HALLUCINATED


def _trajectory(steps: list[Step], passed: bool) -> Trajectory:
    return Trajectory(
        run_id="r1", task=Task(id="t", repo=str(LEDGER), problem_statement="Fix rounding."),
        repo_id="ledger", model_id="m", backend="fake", steps=steps,
        exit_status=ExitStatus.SUBMITTED,
        verification=Verification(command="pytest", passed=passed),
        verified_by="tests" if passed else None,
    )  # fmt: skip


def test_what_an_earlier_step_created_exists_for_the_steps_after_it(labeler):
    create = step("Add a helper module.", "create",
                  {"path": "src/ledger/rounding.py", "content": "def round_half_even(x):\n    return x\n"},
                  Observation(text="created"), index=0)  # fmt: skip
    use = step("Now read it back.", "view", {"path": "src/ledger/rounding.py"},
               Observation(text="1 def round_half_even"), index=1)  # fmt: skip
    labels = labeler.label_run(_trajectory([create, use], passed=True))
    assert [label_code(label) for label in labels] == [CLEAN, CLEAN]
    # Without the creating step the same view names a file that does not exist.
    assert label_code(labeler.label_step(use, verified=True)) == HALLUCINATED


def test_what_a_rolled_back_step_created_is_gone_after_the_rollback(labeler):
    reason = "prefix score 0.90 > 0.50"
    create = step("Add a helper module.", "create",
                  {"path": "src/ledger/rounding.py", "content": "X = 1\n"},
                  Observation(text="created"), index=0, rolled_back=True,
                  reason=f"rolled back: {reason}")  # fmt: skip
    seen = step("Read it.", "view", {"path": "src/ledger/rounding.py"},
                Observation(text="1 X = 1"), index=1, rolled_back=True,
                reason=f"rolled back: {reason}")  # fmt: skip
    trigger = step("Edit it.", "view", {"path": "src/ledger/money.py"}, None, index=2,
                   rolled_back=True, reason=f"not run: {reason}")  # fmt: skip
    after = step("Read it again.", "view", {"path": "src/ledger/rounding.py"},
                 Observation(text="not found", ok=False, error_kind="not_found"), index=3)  # fmt: skip
    labels = labeler.label_run(_trajectory([create, seen, trigger, after], passed=False))
    assert label_code(labels[1]) == UNKNOWN  # the file existed when it was read
    assert label_code(labels[3]) == HALLUCINATED  # undone: it no longer exists


def test_native_tool_calls_are_grounded_like_text_actions(labeler):
    call = ToolCall(name="edit", arguments={"path": "src/ledger/money.py", "old": "a",
                                            "new": "return Money.from_cents(5)"})  # fmt: skip
    s = Step(index=0, message='<tool_call>{"name": "edit"}</tool_call>', thought="", action=call)
    label = labeler.label_step(s, verified=True)
    assert label_code(label) == HALLUCINATED and "Money.from_cents" in label.reasons[0]
