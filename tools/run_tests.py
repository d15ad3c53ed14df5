"""`run_tests`: run the repository's tests (all, or some) and summarise the outcome.

The run itself is `tools.testing.run_test_suite` (shared with verification and the
grader); this tool adds what a model needs: lenient test ids (`test_money.py`,
`tests.test_money.TestX.test_y`, `/workspace/tests/...` all find the right test,
and a file that does not exist is answered with the likeliest ones before anything
runs), and a short summary — counts, then each failing test with its assertion.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from tools import files
from tools.base import ToolContext, failure
from tools.testing.discovery import TestPlan, discover_tests
from tools.testing.runner import run_test_suite
from tools.text import cut_tail, plural
from tools.types import TestRun, ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="run_tests",
    summary="Run the repository's tests (all, or the given tests) and summarise the result.",
    description=(
        "Finds how the repository runs its tests (pytest or unittest). Give test files or "
        "test ids to run only those, one per line; give nothing to run all. Shows the counts "
        "and each failing test with its assertion message."
    ),
    params=[
        ToolParam(
            name="tests",
            required=False,
            description="test files or ids, such as tests/test_money.py::test_add (default: all)",
            aliases=[
                "test",
                "ids",
                "test_ids",
                "paths",
                "path",
                "files",
                "file",
                "target",
                "select",
                "args",
            ],
        ),
        ToolParam(
            name="timeout",
            type="integer",
            required=False,
            description="seconds before the run is stopped (default 600)",
            aliases=["timeout_s", "seconds"],
        ),
    ],
    body_param="tests",
    examples=[{"tests": "tests/test_money.py"}, {}],
)

_NOT_FOUND = re.compile(r"ERROR: (?:file or directory )?not found: (?P<what>.+)")


def split_ids(text: str) -> list[str]:
    """Test ids from free text: one per line, or separated by spaces / commas."""
    out: list[str] = []
    for line in text.replace("\r", "\n").split("\n"):
        line = line.strip().strip("`'\"")
        if not line:
            continue
        if "[" in line:  # a parametrised id may contain spaces
            out.append(line)
            continue
        out += [part.strip("`'\",") for part in re.split(r"[\s,]+", line) if part.strip(",")]
    return [part.removeprefix("/workspace/").removeprefix("./") for part in out if part]


class RunTests:
    spec = SPEC

    def _plan(self, ctx: ToolContext) -> TestPlan:
        plan = ctx.state.get("test_plan")
        if plan is None:
            plan = discover_tests(ctx.sandbox, override=ctx.test_command)
            ctx.state["test_plan"] = plan
        return plan

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        plan = self._plan(ctx)
        wanted = split_ids(str(args.get("tests") or ""))
        selected: list[str] = []
        if plan.framework == "pytest":
            for test_id in wanted:
                resolved = self._pytest_id(ctx, test_id)
                if isinstance(resolved, ToolResult):
                    return resolved
                selected.append(resolved)
        elif plan.framework == "unittest":
            selected = wanted
        note = ""
        if wanted and plan.framework == "custom":
            note = (
                f"\nNote: this repository's tests run with `{plan.command}`, which cannot "
                "select tests; all of them ran."
            )
        limits = ctx.limits
        timeout = float(args.get("timeout") or limits.tests_timeout_s)
        timeout = min(max(5.0, timeout), limits.max_timeout_s)
        run = run_test_suite(ctx.sandbox, selected, plan=plan, timeout=timeout)
        text = render_run(run, limits.failures_shown, limits.output_chars, bool(selected)) + note
        kind = None
        if run.timed_out:
            kind = "timeout"
        elif not run.outcomes and _NOT_FOUND.search(run.output_tail):
            kind = "not_found"
        failing = [o for o in run.outcomes if not o.passed]
        compact = run.model_copy(update={"outcomes": failing, "output_tail": ""})
        return ToolResult(
            text=text, ok=run.ok, error_kind=kind, exit_code=run.exit_code, tests=compact
        )

    @staticmethod
    def _pytest_id(ctx: ToolContext, test_id: str) -> str | ToolResult:
        """The node id pytest understands for what the model wrote, or a not_found result."""
        box = ctx.sandbox
        path, sep, rest = test_id.partition("::")
        if files.exists(box, path):
            return test_id
        if files.exists(box, path + ".py"):
            return f"{path}.py{sep}{rest}"
        if "/" not in path and not path.endswith(".py") and "." in path:
            # unittest style: tests.test_money.TestMoney.test_add
            parts = path.split(".")
            for cut in range(len(parts), 0, -1):
                candidate = "/".join(parts[:cut]) + ".py"
                if files.exists(box, candidate):
                    return "::".join([candidate, *parts[cut:]] + ([rest] if rest else []))
        name = posixpath.basename(path if path.endswith(".py") else path + ".py")
        matches = [f for f in files.walk_files(box) if posixpath.basename(f) == name]
        if len(matches) == 1:
            return f"{matches[0]}{sep}{rest}"
        return failure(
            "not_found",
            files.not_found_text(box, path)
            + " Give a test file or id like tests/test_money.py::test_add, or nothing to "
            "run all tests.",
        )


def render_run(run: TestRun, shown: int, limit: int, selected: bool) -> str:
    """A short, model-facing summary of a test run."""
    how = f"{run.framework}, {run.duration_s:.1f} s"
    if run.timed_out:
        head = (
            f"The tests timed out after {run.duration_s:.0f} s and were stopped ({how}). "
            "Run fewer tests (give a file), or look for an endless loop."
        )
        body = run.output_tail.strip().splitlines()[-12:]
        return cut_tail("\n".join([head, *body]), limit)[0]
    if run.framework == "custom":
        verdict = "passed" if run.ok else "failed"
        tail = "\n".join(run.output_tail.strip().splitlines()[-15:])
        head = f"{run.command} {verdict} (exit code {run.exit_code}; {run.duration_s:.1f} s)."
        return cut_tail(f"{head}\n{tail}", limit)[0]
    if run.ok:
        scope = "selected " if selected else ""
        extra = f", {run.skipped} skipped" if run.skipped else ""
        text = f"All {plural(run.passed + run.xfailed, scope + 'test')} passed{extra} ({how})."
        if selected:
            text += " Run all tests (run_tests with no tests) before you submit."
        return text
    if not run.outcomes and not run.collection_errors:
        head = f"No tests ran (exit code {run.exit_code}; {how})."
        tail = "\n".join(run.output_tail.strip().splitlines()[-15:])
        hint = ""
        if match := _NOT_FOUND.search(run.output_tail):
            hint = f"\n{_missing_hint(match['what'])}"
        return cut_tail(f"{head}\n{tail}{hint}", limit)[0]
    lines = [f"{run.counts_text()} ({how}; {run.source})."]
    failures = run.failures
    for outcome in failures[:shown]:
        if outcome in run.collection_errors:
            label = f"ERROR {outcome.test_id} (could not be collected: none of its tests ran)"
        else:
            label = f"{outcome.status.upper()} {outcome.test_id}"
        lines.append(label)
        for message_line in outcome.message.splitlines()[:4]:
            lines.append(f"  {message_line}")
    rest = failures[shown:]
    if rest:
        names = ", ".join(o.test_id for o in rest[:10])
        more = " …" if len(rest) > 10 else ""
        lines.append(f"[{plural(len(rest), 'more failing test')}: {names}{more}]")
    return cut_tail("\n".join(lines), limit)[0]


def _missing_hint(what: str) -> str:
    return (
        f"pytest found no test {what.strip()}. Check the name with search (for example "
        "pattern: def test_), or run the whole file."
    )
