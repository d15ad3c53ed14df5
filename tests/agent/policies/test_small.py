"""The small-model policy driven by a scripted backend through the real graph, with real
tools in a real sandbox: every phase, the loop guards, failed attempts, resume and fork."""

from __future__ import annotations

import warnings

import pytest

from agent.backends.base import BackendCapabilities, Generation
from agent.backends.fake import FakeBackend
from agent.graph.builder import build_graph
from agent.types import ExitStatus
from tests.agent.graph.conftest import Harness
from tests.agent.graph.test_resume_fork import Killed, kill_at

warnings.filterwarnings("ignore", category=UserWarning, module="sandboxes.local")

CAPS = BackendCapabilities(adapters=True, prefill=True, logprobs=True)
PICK_A = Generation(text="A", top_logprobs=[[("A", -0.2), ("B", -1.9), ("The", -3.0)]])
# Edit replies continue the forced start: the signature (and docstring, had it one).
FIXED = "    return a + b\n"
WRONG = "    return a * b\n"
NOOP = "    return a - b\n"
SWAPPED = "    return b - a\n"
HAPPY_ACTIONS = ["run_tests", "view", "edit", "run_tests", "submit"]


@pytest.fixture
def small(buggy_repo, task):
    def make(sandbox: str = "local", **overrides) -> Harness:
        return Harness(buggy_repo, task, sandbox, **{"agent.policy": "small", **overrides})

    return make


def run(h: Harness, script, **kwargs):
    return h.runner.start(
        h.task, h.repo, h.handles(None, backend=FakeBackend(script, capabilities=CAPS), **kwargs)
    )


def kept_actions(t) -> list[str]:
    return [s.action.name for s in t.steps if s.kept]


def policy_state(h: Harness, run_id: str) -> dict:
    graph = build_graph(h.runner._checkpointer())
    return graph.get_state(h.runner._thread(run_id)).values["policy_state"]


def test_every_phase_in_order_and_only_the_choices_are_the_models(small):
    h = small()
    t = run(h, [PICK_A, FIXED])
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed
    assert kept_actions(t) == HAPPY_ACTIONS
    assert [s.actor for s in t.steps] == ["harness", "model", "model", "harness", "harness"]
    assert t.policy == "small" and "return a + b" in t.final_diff
    reproduce, view, edit = t.steps[:3]
    assert reproduce.action.arguments == {"tests": "tests/test_core.py::test_add"}
    assert reproduce.observation.tests.failed == 1
    assert view.action.arguments["path"] == "pkg/core.py" and view.prompt is not None
    # The edit rewrites the whole chosen function; its start was forced by prefill.
    assert edit.action.arguments["old"] == "def add(a, b):\n    return a - b"
    assert edit.action.arguments["new"] == "def add(a, b):\n    return a + b"
    choice_call, edit_call = h.backend.calls
    assert choice_call[2].max_new_tokens == 1 and choice_call[2].top_logprobs > 0
    assert edit_call[2].prefix == "```python\ndef add(a, b):\n"
    assert edit_call[2].stop[0] == "\n```" and "\ndef " in edit_call[2].stop
    assert "tests/test_core.py::test_add" in edit_call[0][-1].content


def test_what_the_model_writes_past_the_function_is_cut_off(small):
    h = small()
    t = run(h, [PICK_A, FIXED + "\n\n# Test it\ndef test_add():\n    assert add(1, 1) == 2\n"])
    assert t.steps[2].action.arguments["new"] == "def add(a, b):\n    return a + b"
    assert t.verification.passed


def test_an_edit_that_changes_nothing_is_resampled_not_run(small):
    h = small()
    t = run(h, [PICK_A, NOOP, FIXED])
    assert kept_actions(t) == HAPPY_ACTIONS and t.verification.passed
    assert h.backend.calls[2][2].temperature > 0  # the resample is hotter, another seed
    assert h.backend.calls[2][2].seed != h.backend.calls[1][2].seed
    assert policy_state(h, t.run_id)["repeats"] == 1


def test_a_failed_attempt_is_reverted_and_a_repeat_of_it_is_not_run_again(small):
    h = small()
    t = run(h, [PICK_A, WRONG, WRONG, FIXED])
    assert kept_actions(t) == ["run_tests", "view", "edit", "run_tests", "edit", "edit",
                               "run_tests", "submit"]  # fmt: skip
    revert = t.steps[4]
    assert revert.actor == "harness" and revert.action.arguments["new"].endswith("a - b")
    assert t.exit_status == ExitStatus.SUBMITTED and t.verification.passed
    ps = policy_state(h, t.run_id)
    assert ps["repeats"] == 1 and ps["attempts"] == 2


def test_no_submit_when_no_edit_passes_the_tests(small):
    h = small()
    t = run(h, [PICK_A, WRONG, SWAPPED])
    assert "submit" not in kept_actions(t)
    assert t.exit_status == ExitStatus.BUDGET_EXHAUSTED and not t.verification.passed
    assert t.final_diff.strip() == ""  # the last failed attempt was reverted too


def test_an_edit_that_does_not_parse_is_refused_and_counted_malformed(small):
    h = small()
    t = run(h, [PICK_A, "    return a +\n", FIXED])
    assert kept_actions(t) == ["run_tests", "view", "edit", "edit", "run_tests", "submit"]
    assert not t.steps[2].observation.ok and t.verification.passed
    assert policy_state(h, t.run_id)["malformed"] == 1


def test_a_choice_without_an_option_letter_falls_back_to_the_best_ranked(small):
    h = small()
    t = run(h, [Generation(text="I think", top_logprobs=[[("I", -0.1)]]), FIXED])
    assert t.verification.passed and policy_state(h, t.run_id)["malformed"] == 1


def test_submit_is_never_proposed_on_an_unchanged_tree(small):
    h = small()
    t = run(h, [PICK_A, NOOP, NOOP, NOOP, NOOP, NOOP, NOOP])
    assert "submit" not in kept_actions(t) and "edit" not in kept_actions(t)
    assert t.exit_status == ExitStatus.BUDGET_EXHAUSTED
    assert policy_state(h, t.run_id)["repeats"] == 6
    # The last attempt's discarded generations have no next step: the exit accounts for them.
    assert "were generated and not run" in t.exit_reason


def test_an_attempt_that_ran_nothing_is_counted_on_the_next_step(small):
    h = small()
    t = run(h, [PICK_A, NOOP, NOOP, NOOP, FIXED])
    assert kept_actions(t) == HAPPY_ACTIONS and t.verification.passed
    assert any("3 no-op or repeated" in n and "ran nothing" in n for n in t.steps[2].notes)


@pytest.mark.parametrize(("node", "occurrence"), [("act", 3), ("call_model", 4), ("verify", 1)])
def test_resume_mid_policy_keeps_the_phase(small, node, occurrence):
    h = small()
    with pytest.raises(Killed):
        run(h, [PICK_A, FIXED], before_node=kill_at(node, occurrence))
    run_id = h.runner.store.run_ids()[-1]
    remaining = [PICK_A, FIXED][len(h.backend.calls) :]
    t = h.runner.resume(run_id, h.handles(None, backend=FakeBackend(remaining, capabilities=CAPS)))
    assert kept_actions(t) == HAPPY_ACTIONS and t.verification.passed


def test_fork_after_the_choice_tries_another_edit_from_the_same_phase(small):
    h = small()
    first = run(h, [PICK_A, WRONG, SWAPPED])
    assert not first.verification.passed
    fork = h.runner.fork(
        first.run_id, 2, h.handles(None, backend=FakeBackend([FIXED], capabilities=CAPS))
    )
    assert kept_actions(fork) == HAPPY_ACTIONS and fork.verification.passed
    assert policy_state(h, fork.run_id)["tried"] == ["pkg/core.py::add"]


@pytest.mark.docker
def test_every_phase_in_the_docker_sandbox(small):
    h = small("docker")
    t = run(h, [PICK_A, FIXED])
    assert kept_actions(t) == HAPPY_ACTIONS and t.verification.passed


def test_both_model_choices_capture_the_probe_layer(small):
    """The pick and the edit are the run's model steps: the monitor needs features of
    both (a probe collection records nothing for a step generated without them)."""
    h = small()
    handles = h.handles(None, backend=FakeBackend([PICK_A, FIXED], capabilities=CAPS))
    handles.capture_layer = 3
    t = h.runner.start(h.task, h.repo, handles)
    assert t.exit_status == ExitStatus.SUBMITTED
    choice_call, edit_call = h.backend.calls
    assert choice_call[2].capture_layer == 3 and edit_call[2].capture_layer == 3


def test_repo_notes_reach_both_model_prompts(small):
    """Memory's notes go into the small policy's own system messages (it does not use the
    run's system prompt): the bench's notes arm and `both` depend on it."""
    h = small()
    handles = h.handles(None, backend=FakeBackend([PICK_A, FIXED], capabilities=CAPS))
    handles.repo_notes = "`add` in pkg/core.py sums two numbers."
    t = h.runner.start(h.task, h.repo, handles)
    assert t.exit_status == ExitStatus.SUBMITTED
    for messages, _, _ in h.backend.calls:
        system = messages[0]
        assert system.role == "system" and system.content.endswith(
            "Notes about this repository, from earlier work in it:\n"
            "`add` in pkg/core.py sums two numbers.\n"
        )
    # Without notes the prompts are what they were.
    h2 = small()
    h2.runner.start(h2.task, h2.repo, h2.handles(None, backend=FakeBackend([PICK_A, FIXED],
                                                                          capabilities=CAPS)))  # fmt: skip
    assert [m[0][0].content for m in h2.backend.calls] == [
        "You find bugs in Python repositories.",
        "You fix bugs in Python code. Reply with code only.",
    ]
