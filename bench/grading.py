"""Grade a patch against a task: resolved or not, and exactly why.

In a fresh workspace of the task's base commit (its task repository), in a fresh
sandbox:

1. An empty patch is not run: unresolved (`patch_status="empty"`).
2. The patch is applied (`patching.apply_patch`); one that does not apply is recorded
   as `does_not_apply`, unresolved — not an error of the grader.
3. Whatever the patch did to test files is undone: tests, conftests and anything under
   a tests/ directory go back to the base commit and new ones are deleted (listed in
   `reset_test_files`). A task is about fixing the code; a patch that edits the
   failing test to pass must not count. SWE-bench's harness does the same for the
   files of its `test_patch`.
4. `test_patch` is applied if the task has one.
5. The test files of FAIL_TO_PASS and PASS_TO_PASS run (pytest; unittest runs its
   whole suite) with a time limit, through `tools.testing.run_test_suite`.
6. Resolved ⇔ every FAIL_TO_PASS test passes and every PASS_TO_PASS test passes. A
   test that did not run — its id no longer exists, its file no longer collects, the
   run timed out — counts as failed (status `missing`).

Not guaranteed: code under test shares the sandbox with the test runner and could
forge its own report; the grader trusts the sandbox, not the patch's author.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.types import TestOutcome, Verification
from bench.patching import ApplyStatus, apply_patch, changed_paths, restore_paths
from bench.tasks import BenchTask
from sandboxes.settings import SandboxSettings
from sandboxes.workspace import Workspace
from tools.testpaths import is_test_path, test_file_of
from tools.types import PASSING

_DISCOVERY = threading.Lock()
TestPatchStatus = Literal["none", "applied", "does_not_apply"]
RepoResolver = Callable[[BenchTask], Path]


class Grade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_id: str
    resolved: bool
    patch_status: ApplyStatus
    apply_output: str = ""
    test_patch_status: TestPatchStatus = "none"
    reset_test_files: list[str] = Field(default_factory=list)
    fail_to_pass: dict[str, str] = Field(default_factory=dict, description="test id → status")
    pass_to_pass: dict[str, str] = Field(default_factory=dict)
    timed_out: bool = False
    collection_errors: list[str] = Field(default_factory=list)
    command: str = ""
    exit_code: int | None = None
    output_tail: str = ""
    duration_s: float = 0.0
    error: str | None = Field(default=None, description="the grader itself failed (not the patch)")

    @property
    def fail_to_pass_ok(self) -> bool:
        return all(s in PASSING for s in self.fail_to_pass.values())

    @property
    def pass_to_pass_ok(self) -> bool:
        return all(s in PASSING for s in self.pass_to_pass.values())

    def summary(self) -> str:
        if self.error:
            return f"grader error: {self.error}"
        if self.patch_status in ("empty", "does_not_apply"):
            return f"patch {self.patch_status.replace('_', ' ')}"
        f2p = sum(s in PASSING for s in self.fail_to_pass.values())
        p2p = sum(s in PASSING for s in self.pass_to_pass.values())
        text = (f"FAIL_TO_PASS {f2p}/{len(self.fail_to_pass)}, "
                f"PASS_TO_PASS {p2p}/{len(self.pass_to_pass)}")  # fmt: skip
        if self.timed_out:
            text += ", timed out"
        if self.collection_errors:
            text += f", {len(self.collection_errors)} collection error(s)"
        return text

    def to_verification(self) -> Verification:
        """The grade as a trajectory's verification (`verified_by="benchmark"`)."""
        outcomes = []
        for test_id, status in {**self.fail_to_pass, **self.pass_to_pass}.items():
            known = status in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
            outcomes.append(TestOutcome(
                test_id=test_id, status=status if known else "failed",
                message="" if known else f"did not run ({status})",
            ))  # fmt: skip
        return Verification(
            command=self.command, passed=self.resolved, exit_code=self.exit_code,
            summary=self.summary(), outcomes=outcomes,
            fail_to_pass_ok=self.fail_to_pass_ok, pass_to_pass_ok=self.pass_to_pass_ok,
            output_tail=self.output_tail, duration_s=self.duration_s,
        )  # fmt: skip


def default_resolver(task: BenchTask) -> Path:
    """The task repository from the bench store (sources: example:, pypi:, local paths)."""
    from bench.repos import task_checkout

    return task_checkout(task)


def _test_files(task: BenchTask) -> list[str]:
    files = {test_file_of(t) for t in [*task.FAIL_TO_PASS, *task.PASS_TO_PASS]}
    return sorted(f for f in files if f)


def _patch_files(patch: str | None) -> set[str]:
    out: set[str] = set()
    for line in (patch or "").splitlines():
        if line.startswith(("+++ b/", "--- a/")):
            out.add(line[6:].strip())
    return out


class Grader:
    def __init__(
        self,
        settings: SandboxSettings | None = None,
        work_dir: Path | None = None,
        timeout_s: float = 600.0,
        resolve_repo: RepoResolver = default_resolver,
        images_dir: Path | None = None,
    ):
        """`images_dir` (normally `Home.images`): grade in the repository's own sandbox image
        (its dependencies installed), as runs do; None: the base image, as the generator
        validates."""
        from agent.home import Home

        self.settings = settings or SandboxSettings()
        self.work_dir = work_dir or Home.resolve().bench / "grading"
        self.timeout_s = timeout_s
        self.resolve_repo = resolve_repo
        self.images_dir = images_dir

    def _not_run(self, task: BenchTask, status: str) -> tuple[dict[str, str], dict[str, str]]:
        return ({t: status for t in task.FAIL_TO_PASS}, {t: status for t in task.PASS_TO_PASS})

    def grade(self, task: BenchTask, patch: str) -> Grade:
        started = time.monotonic()
        grade = self._grade(task, patch)
        grade.duration_s = round(time.monotonic() - started, 3)
        return grade

    def _grade(self, task: BenchTask, patch: str) -> Grade:
        f2p, p2p = self._not_run(task, "not_run")
        if not patch.strip():
            return Grade(instance_id=task.instance_id, resolved=False, patch_status="empty",
                         fail_to_pass=f2p, pass_to_pass=p2p)  # fmt: skip
        where = self.work_dir / f"{task.instance_id}-{uuid.uuid4().hex[:8]}"
        try:
            repo = self.resolve_repo(task)
            workspace = Workspace.create(repo, where / "ws", where / "snapshots.git",
                                         f"grade-{uuid.uuid4().hex[:8]}", base=task.base_commit)  # fmt: skip
        except Exception as exc:
            shutil.rmtree(where, ignore_errors=True)
            return Grade(instance_id=task.instance_id, resolved=False, patch_status="applied",
                         fail_to_pass=f2p, pass_to_pass=p2p,
                         error=f"cannot check out the task: {exc}")  # fmt: skip
        try:
            return self._in_workspace(task, patch, workspace)
        finally:
            workspace.remove()
            shutil.rmtree(where, ignore_errors=True)

    def _in_workspace(self, task: BenchTask, patch: str, workspace: Workspace) -> Grade:
        f2p, p2p = self._not_run(task, "not_run")
        grade = Grade(instance_id=task.instance_id, resolved=False, patch_status="applied",
                      fail_to_pass=f2p, pass_to_pass=p2p)  # fmt: skip
        applied = apply_patch(workspace.path, patch)
        grade.patch_status, grade.apply_output = applied.status, applied.output
        if not applied.ok:
            return grade
        protected = set(_test_files(task)) | _patch_files(task.test_patch)
        touched = [p for p in changed_paths(workspace.path) if is_test_path(p) or p in protected]
        restore_paths(workspace.path, touched)
        grade.reset_test_files = touched
        if task.test_patch and task.test_patch.strip():
            result = apply_patch(workspace.path, task.test_patch)
            grade.test_patch_status = "applied" if result.status == "applied" else "does_not_apply"
            if grade.test_patch_status != "applied":
                grade.apply_output = result.output
                return grade
        try:
            self._run_tests(task, workspace, grade)
        except Exception as exc:
            grade.error = f"{type(exc).__name__}: {exc}"[:1000]
        return grade

    def _run_tests(self, task: BenchTask, workspace: Workspace, grade: Grade) -> None:
        from sandboxes.factory import open_sandbox
        from tools.testing.discovery import discover_tests
        from tools.testing.runner import run_test_suite

        with open_sandbox(workspace, self.settings, images_dir=self.images_dir) as sandbox:
            with _DISCOVERY:  # it may ast.parse a noxfile: not thread-safe in CPython 3.11
                plan = discover_tests(sandbox)
            selection: list[str] = []
            if plan.framework == "pytest":
                files = _test_files(task)
                selection = [f for f in files if (workspace.path / f).is_file()]
                if files and not selection:
                    grade.fail_to_pass, grade.pass_to_pass = self._not_run(task, "missing")
                    return
            elif plan.framework == "custom":
                raise RuntimeError(
                    f"the repository's tests run with a custom command ({plan.command}): "
                    "no per-test outcomes to grade FAIL_TO_PASS / PASS_TO_PASS with"
                )
            run = run_test_suite(sandbox, tests=selection, plan=plan, timeout=self.timeout_s)
        status = {o.test_id: o.status for o in run.outcomes}
        grade.fail_to_pass = {t: status.get(t, "missing") for t in task.FAIL_TO_PASS}
        grade.pass_to_pass = {t: status.get(t, "missing") for t in task.PASS_TO_PASS}
        grade.timed_out = run.timed_out
        grade.collection_errors = [f"{o.test_id}: {o.message}" for o in run.collection_errors]
        grade.command, grade.exit_code = run.command, run.exit_code
        grade.output_tail = run.output_tail
        grade.resolved = grade.fail_to_pass_ok and grade.pass_to_pass_ok
