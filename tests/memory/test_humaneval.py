"""HumanEval subset: problems from the wheel, code extraction, execution in Docker."""

from __future__ import annotations

import pytest

from agent.backends.base import Generation
from agent.backends.fake import FakeBackend
from memory.humaneval import (
    HumanEvalError,
    build_program,
    extract_code,
    load_problems,
    run_humaneval,
    scratch_sandbox,
    subset,
)


def test_all_problems_load_from_the_installed_wheel():
    problems = load_problems()
    assert len(problems) == 164 and problems[0].task_id == "HumanEval/0"


def test_subset_is_fixed_and_spread_over_the_set():
    assert [p.task_id for p in subset(4)] == [
        "HumanEval/0", "HumanEval/41", "HumanEval/82", "HumanEval/123",
    ]  # fmt: skip
    assert subset(8) == subset(8)


def test_subset_size_is_bounded():
    with pytest.raises(ValueError):
        subset(0)


def test_extract_prefers_the_block_defining_the_entry_point():
    reply = "Example:\n```python\nprint(1)\n```\nSolution:\n```python\ndef f(x):\n    return x\n```"
    assert extract_code(reply, "f") == "def f(x):\n    return x"


def test_extract_handles_an_unterminated_fence():
    assert extract_code("```python\ndef f():\n    return 2", "f") == "def f():\n    return 2"


def test_extract_takes_a_bare_reply_only_if_it_is_python():
    assert extract_code("def f():\n    return 1\n", "f") == "def f():\n    return 1"
    assert extract_code("I cannot do that, sorry.", "f") == ""


def test_program_with_a_full_function_keeps_the_prompts_imports():
    problem = subset(1)[0]  # has_close_elements, needs `List` from the prompt's import
    program = build_program(problem, "def has_close_elements(numbers, threshold):\n    return 1")
    assert program.startswith("from typing import List")
    assert program.rstrip().endswith("check(has_close_elements)")


def test_program_with_a_body_only_indents_it_under_the_signature():
    problem = subset(1)[0]
    program = build_program(problem, "return False")
    compile(program, "p.py", "exec")
    assert "\n    return False\n" in program


def reply_with(code: str):
    return lambda messages, options: f"Here you go:\n```python\n{code}\n```"


@pytest.fixture(scope="module")
def docker_box(sandbox_image):
    with scratch_sandbox() as box:
        yield box


@pytest.mark.docker
def test_canonical_solutions_pass_in_the_sandbox(docker_box):
    problems = subset(3)
    backend = FakeBackend([reply_with(p.prompt + p.canonical_solution) for p in problems])
    result = run_humaneval(backend, docker_box, problems)
    assert (result.passed, result.total, result.pass_at_1) == (3, 3, 1.0)


@pytest.mark.docker
def test_wrong_solutions_fail_and_prose_counts_as_no_code(docker_box):
    problems = subset(2)
    backend = FakeBackend(
        [reply_with(f"def {problems[0].entry_point}(*a):\n    return None"), "No idea."]
    )
    result = run_humaneval(backend, docker_box, problems)
    assert [s.outcome for s in result.samples] == ["failed", "no_code"] and result.pass_at_1 == 0


@pytest.mark.docker
def test_a_hanging_solution_times_out(docker_box):
    problem = subset(1)[0]
    backend = FakeBackend([reply_with(f"def {problem.entry_point}(*a):\n    while True: pass")])
    result = run_humaneval(backend, docker_box, [problem], timeout_s=2)
    assert result.samples[0].outcome == "timeout"


@pytest.mark.docker
def test_model_code_runs_in_the_container_not_on_the_host(docker_box, isolated_home):
    # The host's ENGRAM_HOME exists here but must not exist where the code runs.
    problem = subset(1)[0]
    code = (
        f"import os\nassert not os.path.exists({str(isolated_home)!r})\n"
        + problem.prompt + problem.canonical_solution
    )  # fmt: skip
    result = run_humaneval(FakeBackend([reply_with(code)]), docker_box, [problem])
    assert isolated_home.exists() and result.samples[0].outcome == "passed"


def test_a_sandbox_that_does_not_isolate_is_refused(git_repo, tmp_path):
    import warnings

    from sandboxes.local import LocalSandbox
    from sandboxes.workspace import Workspace

    workspace = Workspace.create(git_repo, tmp_path / "ws", tmp_path / "snap.git", "he")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = LocalSandbox(workspace)
    problem = subset(1)[0]
    with box, pytest.raises(HumanEvalError, match="does not isolate"):
        run_humaneval(FakeBackend([reply_with(problem.prompt + problem.canonical_solution)]),
                      box, [problem])  # fmt: skip


@pytest.mark.docker
def test_generation_stats_are_recorded(docker_box):
    problem = subset(1)[0]
    gen = Generation(
        text=f"```python\n{problem.prompt}{problem.canonical_solution}\n```", seconds=1.5
    )
    gen.usage.completion_tokens = 42
    result = run_humaneval(FakeBackend([gen]), docker_box, [problem])
    sample = result.samples[0]
    assert (sample.generated_tokens, sample.generate_s) == (42, 1.5) and sample.execute_s > 0
