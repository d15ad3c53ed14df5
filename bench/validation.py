"""Validate a mutation candidate: apply it in a sandbox workspace and run the whole suite.

The rule: a candidate becomes a task only if at least one test that passed on the
clean tree now fails (its FAIL_TO_PASS), and every other test that passed still
passes (its PASS_TO_PASS). A run that cannot vouch for "every other test" is
discarded: a timeout, a module that no longer collects, a suite that wrote no report.
One more rule of ours: a bug that breaks more than `max_fail_fraction` of the suite
is too broad — its PASS_TO_PASS would no longer guard anything.

Each worker keeps one sandbox and restores its workspace to the clean snapshot
(`reset --hard` + `clean -fdx`, host-side) before every candidate; tests write their
results under the container's /tmp, never into the workspace.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.mutation import Mutation
from bench.repos import BenchRepo
from sandboxes.base import Sandbox
from sandboxes.settings import SandboxSettings
from sandboxes.workspace import Workspace
from tools.testing.discovery import TestPlan, discover_tests
from tools.testing.runner import run_test_suite
from tools.types import PASSING, TestRun

Status = Literal[
    "kept", "survived", "too_broad", "collection_error", "timeout", "no_report", "invalid", "error"
]
MESSAGES_KEPT = 8


class BaselineError(RuntimeError):
    """The clean tree itself cannot be tested; the message says what to do."""

    user_facing = True


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: TestPlan
    passing: list[str] = Field(description="tests passing on the clean tree, in run order")
    not_passing: list[str] = Field(default_factory=list)
    duration_s: float
    command: str


class CandidateResult(BaseModel):
    """One validated candidate (what the generation journal stores)."""

    model_config = ConfigDict(extra="forbid")

    key: str
    mutations: list[Mutation]
    status: Status
    fail_to_pass: list[str] = Field(default_factory=list)
    messages: dict[str, str] = Field(default_factory=dict, description="short failure texts")
    excerpt: str = Field(default="", description="output of a re-run of the first failing test")
    detail: str = ""
    duration_s: float = 0.0

    @property
    def kept(self) -> bool:
        return self.status == "kept"


def default_timeout(baseline: Baseline) -> float:
    """Generous for a mutant that is merely slower, short for one that loops forever."""
    return max(30.0, 5.0 * baseline.duration_s)


def classify(
    run: TestRun, baseline: Baseline, max_fail_fraction: float
) -> tuple[Status, list[str], str]:
    """(status, failing tests, detail) of a suite run on a mutated tree."""
    if run.timed_out:
        return "timeout", [], f"the suite ran past its time limit ({run.duration_s:.0f} s)"
    if run.collection_errors:
        first = run.collection_errors[0]
        return "collection_error", [], f"{first.test_id}: {first.message}"[:500]
    if not run.outcomes:
        return "no_report", [], run.output_tail[-500:]
    status = {o.test_id: o.status for o in run.outcomes}
    failing = [t for t in baseline.passing if status.get(t) not in PASSING]
    if not failing:
        return "survived", [], "every test still passes"
    if len(failing) > max_fail_fraction * len(baseline.passing):
        return "too_broad", failing, f"{len(failing)} of {len(baseline.passing)} tests fail"
    return "kept", failing, ""


class ValidationWorker:
    """One sandbox over a private workspace of the bench repository's clean commit."""

    def __init__(self, repo: BenchRepo, where: Path, settings: SandboxSettings, name: str):
        from sandboxes.factory import open_sandbox

        self.workspace = Workspace.create(
            repo.path, where / "ws", where / "snapshots.git", name, base=repo.clean_commit
        )
        self.sandbox: Sandbox = open_sandbox(self.workspace, settings)

    def close(self) -> None:
        self.sandbox.close()
        self.workspace.remove()

    def _reset(self, files: dict[str, bytes] | None = None) -> None:
        self.sandbox.restore(self.workspace.base_snapshot)
        for rel, data in (files or {}).items():
            self.sandbox.write_file(rel, data)

    def baseline(self, timeout: float = 1800.0) -> Baseline:
        self._reset()
        plan = discover_tests(self.sandbox)
        if plan.framework == "custom":
            raise BaselineError(
                f"the repository's tests run with a custom command ({plan.command}); bug "
                "injection needs per-test outcomes (pytest or unittest)."
            )
        run = run_test_suite(self.sandbox, plan=plan, timeout=timeout)
        if run.timed_out or not run.outcomes:
            raise BaselineError(
                f"the clean tree's test suite gave no results ({run.counts_text()}, exit "
                f"{run.exit_code}):\n{run.output_tail[-1500:]}"
            )
        passing = [o.test_id for o in run.outcomes if o.status in PASSING]
        others = [o.test_id for o in run.outcomes if o.status not in PASSING]
        return Baseline(plan=plan, passing=passing, not_passing=others,
                        duration_s=run.duration_s, command=run.command)  # fmt: skip

    def validate(
        self,
        key: str,
        mutations: list[Mutation],
        files: dict[str, bytes],
        baseline: Baseline,
        timeout: float,
        max_fail_fraction: float,
    ) -> CandidateResult:
        started = time.monotonic()
        try:
            self._reset(files)
            run = run_test_suite(self.sandbox, plan=baseline.plan, timeout=timeout)
            status, failing, detail = classify(run, baseline, max_fail_fraction)
            messages: dict[str, str] = {}
            excerpt = ""
            if status == "kept":
                by_id = {o.test_id: o.message for o in run.outcomes}
                messages = {t: by_id.get(t, "(did not run)") for t in failing[:MESSAGES_KEPT]}
                excerpt = self._excerpt(baseline.plan, failing[0], timeout)
        except Exception as exc:  # a broken sandbox must not end a long generation
            status, failing, detail = "error", [], f"{type(exc).__name__}: {exc}"[:500]
            messages, excerpt = {}, ""
        return CandidateResult(
            key=key, mutations=mutations, status=status, fail_to_pass=failing,
            messages=messages, excerpt=excerpt, detail=detail,
            duration_s=round(time.monotonic() - started, 3),
        )  # fmt: skip

    def _excerpt(self, plan: TestPlan, test_id: str, timeout: float) -> str:
        """What a user running the first failing test sees (the statement quotes it)."""
        if plan.framework != "pytest":
            return ""
        run = run_test_suite(self.sandbox, tests=[test_id], plan=plan, timeout=timeout)
        return run.output_tail
