"""Run a repository's tests in a sandbox and return structured per-test outcomes.

`run_test_suite` is what the run_tests tool, the agent's final verification and the
benchmark grader (FAIL_TO_PASS / PASS_TO_PASS) share. pytest writes JUnit XML to
the sandbox's /tmp (never into the workspace, so results stay out of the diff and
the snapshots); unittest runs under a small stdlib runner that writes JSON. Both
are read back through `execute`. Test ids are passed through exactly as given:
leniency about what a model meant belongs in the tool, not here.

Not guaranteed: code under test runs in the same sandbox and could tamper with its
own result file; graders that need more trust re-run in a fresh sandbox.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from sandboxes.base import ExecResult, Sandbox
from tools.testing.discovery import TestPlan, discover_tests, find_test_files, unittest_plan
from tools.testing.junit import JUnitError, parse_junit
from tools.testing.readback import ReadBackError, read_back
from tools.text import last_lines
from tools.types import TestOutcome, TestRun

RUNNER_SCRIPT = Path(__file__).with_name("unittest_json.py")
_PY = 'PY=$(command -v python3 || command -v python) || { echo "no python in the sandbox"; exit 127; }; '
_REPORT_LINE = re.compile(r"^-+ generated xml file: .*engram-junit-")
_TAIL_LINES = 40
_TAIL_CHARS = 4000


def _env_prefix(plan: TestPlan) -> str:
    if not plan.pythonpath:
        return ""
    paths = ":".join(shlex.quote(p) for p in plan.pythonpath)
    return f"PYTHONPATH={paths}${{PYTHONPATH:+:$PYTHONPATH}} "


def _tail(output: str) -> str:
    kept = [line for line in output.splitlines() if not _REPORT_LINE.match(line)]
    return last_lines("\n".join(kept), _TAIL_LINES)[-_TAIL_CHARS:]


def pytest_args(plan: TestPlan, tests: Sequence[str], report: str, no_addopts: bool) -> list[str]:
    args = ["-m", "pytest", "--rootdir=.", "-o", "junit_family=xunit1", f"--junitxml={report}",
            "-q", "--tb=short", "--color=no", "--continue-on-collection-errors"]  # fmt: skip
    if no_addopts:
        args += ["-o", "addopts="]
    return [*args, *plan.args, *tests]


def _run_pytest(
    sandbox: Sandbox, plan: TestPlan, tests: Sequence[str], timeout: float, no_addopts: bool
) -> tuple[TestRun, ExecResult]:
    report = f"/tmp/engram-junit-{uuid.uuid4().hex}.xml"
    args = pytest_args(plan, tests, report, no_addopts)
    quoted = " ".join(shlex.quote(a) for a in args)
    env = _env_prefix(plan)
    started = time.monotonic()
    result = sandbox.execute(f'{_PY}{env}"$PY" {quoted}', timeout=timeout)
    duration = time.monotonic() - started
    shown = " ".join(shlex.quote(a) for a in args if not a.startswith("--junitxml="))
    command = f"{env}python3 {shown}"
    outcomes: list[TestOutcome] = []
    collection_errors: list[TestOutcome] = []
    try:
        data = read_back(sandbox, report)
        if data:
            parsed = parse_junit(data)
            outcomes, collection_errors = parsed.outcomes, parsed.collection_errors
    except (ReadBackError, JUnitError) as exc:
        collection_errors = [
            TestOutcome(test_id="<report>", status="error", message=f"unreadable report: {exc}")
        ]
    run = TestRun.build(
        command=command, framework="pytest", source=plan.source, outcomes=outcomes,
        collection_errors=collection_errors, exit_code=result.exit_code,
        timed_out=result.timed_out, duration_s=duration, output_tail=_tail(result.output),
    )  # fmt: skip
    return run, result


def _run_unittest(
    sandbox: Sandbox, plan: TestPlan, tests: Sequence[str], timeout: float
) -> TestRun:
    token = uuid.uuid4().hex
    script, out = f"/tmp/engram-ut-{token}.py", f"/tmp/engram-ut-{token}.json"
    args = ["--start", plan.start_dir, "--pattern", plan.pattern, "--top", plan.top_dir]
    names = [*plan.args, *tests]
    quoted = " ".join(shlex.quote(a) for a in [*args, *names])
    env = _env_prefix(plan)
    body = RUNNER_SCRIPT.read_text()
    started = time.monotonic()
    result = sandbox.execute(
        f"cat > {script} <<'ENGRAM_UT_EOF'\n{body}\nENGRAM_UT_EOF\n"
        f'{_PY}{env}"$PY" {script} --out {out} {quoted}; rc=$?; rm -f {script}; exit $rc',
        timeout=timeout,
    )
    duration = time.monotonic() - started
    if names:
        command = f"{env}python3 -m unittest {' '.join(shlex.quote(n) for n in names)}"
    else:
        command = (
            f"{env}python3 -m unittest discover -s {shlex.quote(plan.start_dir)} "
            f"-p {shlex.quote(plan.pattern)} -t {shlex.quote(plan.top_dir)}"
        )
    outcomes: list[TestOutcome] = []
    collection_errors: list[TestOutcome] = []
    try:
        data = read_back(sandbox, out)
        if data:
            payload = json.loads(data)
            outcomes = [TestOutcome(**record) for record in payload.get("tests", [])]
            collection_errors = [
                TestOutcome(**record) for record in payload.get("collection_errors", [])
            ]
    except (ReadBackError, ValueError, TypeError) as exc:
        collection_errors = [
            TestOutcome(test_id="<report>", status="error", message=f"unreadable report: {exc}")
        ]
    return TestRun.build(
        command=command, framework="unittest", source=plan.source, outcomes=outcomes,
        collection_errors=collection_errors, exit_code=result.exit_code,
        timed_out=result.timed_out, duration_s=duration, output_tail=_tail(result.output),
    )  # fmt: skip


def _run_custom(sandbox: Sandbox, plan: TestPlan, timeout: float) -> TestRun:
    command = plan.command or ""
    started = time.monotonic()
    result = sandbox.execute(f"{_env_prefix(plan)}{command}", timeout=timeout)
    return TestRun.build(
        command=command, framework="custom", source=plan.source, exit_code=result.exit_code,
        timed_out=result.timed_out, duration_s=time.monotonic() - started,
        output_tail=_tail(result.output),
    )  # fmt: skip


def run_test_suite(
    sandbox: Sandbox,
    tests: Sequence[str] = (),
    plan: TestPlan | None = None,
    timeout: float = 600.0,
    command: str | None = None,
) -> TestRun:
    """Run all tests, or the given ids / files, and return their outcomes.

    `command` (a Task's test command) overrides discovery when no `plan` is given.
    A pytest whose config names plugins the sandbox lacks is retried without the
    config's addopts; a sandbox without pytest falls back to unittest. Both are
    stated in the run's `source`.
    """
    plan = plan or discover_tests(sandbox, override=command)
    if plan.framework == "unittest":
        return _run_unittest(sandbox, plan, tests, timeout)
    if plan.framework == "custom":
        return _run_custom(sandbox, plan, timeout)
    run, result = _run_pytest(sandbox, plan, tests, timeout, no_addopts=False)
    output = result.output
    if result.exit_code == 4 and "unrecognized arguments" in output and not run.outcomes:
        retry, _ = _run_pytest(sandbox, plan, tests, timeout, no_addopts=True)
        retry.source = f"{plan.source}; its addopts were dropped (they need missing plugins)"
        return retry
    if "No module named pytest" in output and not run.outcomes:
        fallback = unittest_plan(
            sandbox, find_test_files(sandbox), f"{plan.source}; pytest is missing, ran unittest"
        )
        return _run_unittest(sandbox, fallback, tests, timeout)
    return run
