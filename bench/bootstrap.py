"""Bootstrap demonstrations: a training task's known fix, walked through the agent's own
small-model policy, as a verified run labelled `source="bootstrap"`.

The generator knows each task's fix (its gold patch). `write_demonstration` runs the
real graph — the small policy's phases, the real tools in a real sandbox, the agent's
own test verification — with `FixFollowingBackend` in the model's seat. That backend
answers the policy's two questions from the fix: at *localize* it picks the option
whose function the gold patch changes; at *edit* it writes that function as the fixed
file has it (the continuation after the policy's forced `def` head). Everything else
in the trajectory — the prompts, the observations, the test runs — is what the agent
would see, so a demonstration trains exactly the text the model produces at inference.

Rules that keep it honest:
- training tasks only (`split == "train"`); a test task is refused;
- a fix the small policy cannot express (several functions, a change outside a
  function body, a function not among the offered candidates) gives no demonstration
  (`None`, with the reason in the trajectory's exit) — never a partial one;
- the run counts as learning material only when the agent's own verification passed;
  it is stored with `source="bootstrap"` and the model id `BOOTSTRAP_MODEL_ID`, so
  every report can keep learning from demonstrations apart from the agent's own runs.
"""

from __future__ import annotations

import ast
import re
import subprocess
import tempfile
from pathlib import Path

from agent.backends.base import BackendCapabilities, BackendError, Generation, GenerationOptions
from agent.config import EngramConfig
from agent.home import Home
from agent.types import ChatMessage, ExitStatus, TokenUsage, ToolSpec, Trajectory
from bench.tasks import BenchTask

BOOTSTRAP_MODEL_ID = "bootstrap (known fix, small-policy format)"
_OPTION = re.compile(r"^([A-D])\. `([^`]+)` in (\S+)$", re.MULTILINE)
_EDIT_TARGET = re.compile(r"The bug is in `([^`]+)` in (\S+?):\n")


class BootstrapError(RuntimeError):
    user_facing = True


class DemonstrationUnavailable(BackendError):
    """The fix cannot be written in the small policy's format (the run ends here)."""


# -- the fix, read from the gold patch ----------------------------------------------


def patched_files(checkout: Path, base_commit: str, patch: str) -> dict[str, tuple[str, str]]:
    """path -> (text at the base commit, text with the gold patch applied), for each file
    the patch changes; computed in a scratch folder, the checkout is only read."""
    paths = sorted(set(re.findall(r"^\+\+\+ b/(\S+)", patch, re.MULTILINE)))
    if not paths:
        raise BootstrapError("the gold patch names no file (expected `+++ b/<path>` lines)")
    out: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="engram-bootstrap-") as scratch:
        root = Path(scratch)
        for rel in paths:
            shown = subprocess.run(
                ["git", "-C", str(checkout), "show", f"{base_commit}:{rel}"],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            if shown.returncode != 0:
                raise BootstrapError(f"{rel} is not in {base_commit[:12]}: {shown.stderr.strip()}")
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(shown.stdout)
            out[rel] = (shown.stdout, "")
        applied = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", "-"], cwd=root, input=patch,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if applied.returncode != 0:
            raise BootstrapError(f"the gold patch does not apply: {applied.stderr.strip()[:300]}")
        for rel in paths:
            out[rel] = (out[rel][0], (root / rel).read_text())
    return out


def function_spans(source: str) -> dict[str, tuple[int, int]]:
    """Qualified function name (`Class.method`) -> 1-based (first line with decorators,
    last line), as the small policy's candidates count them."""
    spans: dict[str, tuple[int, int]] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([d.lineno for d in child.decorator_list] + [child.lineno])
                    spans[name] = (first, child.end_lineno or child.lineno)
                visit(child, f"{name}.")

    visit(ast.parse(source), "")
    return spans


def changed_lines(before: str, after: str) -> set[int]:
    """1-based lines of `before` that the change replaces or deletes, plus the line an
    insertion lands after (so a pure insertion still points into its function)."""
    import difflib

    lines: set[int] = set()
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            lines.update(range(i1 + 1, i2 + 1))
        elif tag == "insert":
            lines.add(max(i1, 1))
    return lines


class Fix:
    """The gold fix as the small policy sees code: which function, and its fixed text."""

    def __init__(self, files: dict[str, tuple[str, str]]):
        self.files = files
        self.functions: dict[tuple[str, str], str] = {}  # (path, qualname) -> fixed source
        self.problem: str | None = None
        touched: list[tuple[str, str]] = []
        for path, (before, after) in files.items():
            spans_before, spans_after = function_spans(before), function_spans(after)
            for line in sorted(changed_lines(before, after)):
                inside = [(n, s) for n, s in spans_before.items() if s[0] <= line <= s[1]]
                if not inside:
                    self.problem = f"the fix changes {path}:{line}, outside any function"
                    continue
                name = min(inside, key=lambda item: item[1][1] - item[1][0])[0]  # innermost
                if (path, name) not in touched:
                    touched.append((path, name))
            for p, name in touched:
                if p == path and name in spans_after:
                    a, b = spans_after[name]
                    self.functions[(p, name)] = "\n".join(after.splitlines()[a - 1 : b])
        if len(touched) != 1 and self.problem is None:
            self.problem = (f"the fix changes {len(touched)} functions; the small policy edits one "
                            "per attempt")  # fmt: skip
        self.target = touched[0] if len(touched) == 1 and self.problem is None else None


# -- the backend in the model's seat -------------------------------------------------


class FixFollowingBackend:
    """Answers the small policy's localize and edit questions from a known fix."""

    name = "bootstrap"

    def __init__(self, fix: Fix, model_id: str = BOOTSTRAP_MODEL_ID):
        self.fix = fix
        self.model_id = model_id
        self.capabilities = BackendCapabilities(logprobs=True, prefill=True)
        self.calls = 0

    def generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
    ) -> Generation:
        options = options or GenerationOptions()
        self.calls += 1
        prompt = messages[-1].content if messages else ""
        if self.fix.target is None:
            raise DemonstrationUnavailable(self.fix.problem or "no single function to fix")
        usage = TokenUsage(prompt_tokens=self.count_tokens(messages))
        if "Which function contains the bug?" in prompt:
            return self._pick(prompt, usage)
        target = _EDIT_TARGET.search(prompt)
        if target and options.prefix.startswith("```python\n"):
            return self._edit(target.group(1), target.group(2), options.prefix, usage)
        raise DemonstrationUnavailable(
            "the policy asked something the known fix cannot answer (not a small-policy "
            f"localize or edit prompt): {prompt[:120]!r}"
        )

    def _pick(self, prompt: str, usage: TokenUsage) -> Generation:
        path, name = self.fix.target  # type: ignore[misc]
        options = _OPTION.findall(prompt)
        for letter, option_name, option_path in options:
            if option_name == name and option_path == path:
                others = [(o[0], -8.0) for o in options if o[0] != letter]
                usage.completion_tokens = 1
                return Generation(text=letter, usage=usage,
                                  top_logprobs=[[(letter, 0.0), *others]])  # fmt: skip
        offered = ", ".join(f"{n} ({p})" for _, n, p in options)
        raise DemonstrationUnavailable(f"{name} in {path} is not among the candidates the "
                                       f"policy offered: {offered}")  # fmt: skip

    def _edit(self, name: str, path: str, prefix: str, usage: TokenUsage) -> Generation:
        if (path, name) != self.fix.target:
            raise DemonstrationUnavailable(f"the policy asks to rewrite {name} in {path}, "
                                           f"the fix is in {self.fix.target[1]}")  # fmt: skip
        fixed = self.fix.functions.get((path, name))
        head = prefix[len("```python\n") :]
        if fixed is None or not fixed.startswith(head.rstrip("\n")):
            raise DemonstrationUnavailable(f"the fix of {name} changes its signature or docstring,"
                                           " which the policy's forced head keeps")  # fmt: skip
        body = fixed[len(head) :] if fixed.startswith(head) else fixed[len(head.rstrip("\n")) :]
        text = body + "\n```"
        usage.completion_tokens = max(1, len(text) // 4)
        return Generation(text=text, usage=usage)

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        # Budgets only: the policy sizes edit budgets from this; ~4 characters a token.
        return sum(len(m.content) // 4 + 4 for m in messages)

    def load_adapter(self, name: str, path: Path) -> None:
        raise BackendError("a bootstrap demonstration runs without adapters")

    def unload_adapter(self, name: str) -> None:
        pass

    def close(self) -> None:
        pass


# -- one demonstration ----------------------------------------------------------------


def write_demonstration(
    task: BenchTask, checkout: Path, home: Home, config: EngramConfig
) -> Trajectory | None:
    """Run `task`'s known fix through the small policy; the stored trajectory when the
    agent's own verification passed (eligible for `engram learn --bootstrap`), else None."""
    from agent.assembly import build_handles
    from agent.run import Runner, new_run_id
    from bench.runner import config_with
    from memory.trajectories import TrajectoryStore
    from sandboxes.repo import repo_identity

    if task.split != "train":
        raise BootstrapError(f"{task.instance_id} is a {task.split or 'unsplit'} task: "
                             "demonstrations come from training tasks only")  # fmt: skip
    if not task.patch or not task.patch.strip():
        raise BootstrapError(f"{task.instance_id} has no gold patch to demonstrate")
    fix = Fix(patched_files(checkout, task.base_commit, task.patch))
    backend = FixFollowingBackend(fix)
    cfg = config_with(config, {"agent.policy": "small", "probes.enabled": False})
    repo_id = repo_identity(checkout).id
    agent_task = task.to_task()
    handles = build_handles(cfg, home, agent_task, repo_id, backend)
    home.ensure(home.runs, home.worktrees)
    runner = Runner(home, cfg)
    run_id = new_run_id()
    try:
        trajectory = runner.start(agent_task, checkout, handles, run_id=run_id)
    except DemonstrationUnavailable as exc:
        # The policy asked something the fix cannot answer: the run stops there, and its
        # record says why (kept, not eligible, so nothing learns from it).
        trajectory = runner.store.load(run_id)
        trajectory.exit_status = ExitStatus.ERROR
        trajectory.exit_reason = f"no bootstrap demonstration: {exc}"
        trajectory.source = "bootstrap"
        TrajectoryStore(home.runs).save(trajectory)
        return None
    trajectory.source = "bootstrap"
    passed = bool(trajectory.verification and trajectory.verification.passed)
    trajectory.eligible_for_learning = passed
    trajectory.verified_by = "tests" if passed else None
    TrajectoryStore(home.runs).save(trajectory)
    return trajectory if passed else None


__all__ = [
    "BOOTSTRAP_MODEL_ID", "BootstrapError", "DemonstrationUnavailable", "Fix",
    "FixFollowingBackend", "changed_lines", "function_spans", "patched_files",
    "write_demonstration",
]  # fmt: skip
