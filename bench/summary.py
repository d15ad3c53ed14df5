"""Figures of one cell (one arm's results), computed from the stored result files alone.

The resolved rate counts graded tasks only: a task the harness failed on (error or
time cap) says nothing about the model and is reported in its own column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from bench.results import TaskResult, TaskStatus
from bench.stats import Rate, median, rate


class PerStep(BaseModel):
    """Mean wall seconds per step, split as `Step.timings` splits it."""

    model_config = ConfigDict(extra="forbid")

    steps: int
    model_s: float | None
    tools_s: float | None
    monitor_s: float | None
    framework_s: float | None


class CellSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cell: str
    tasks: int
    graded: int
    resolved: Rate
    harness_errors: int
    harness_timeouts: int
    harness_by_phase: dict[str, int] = Field(default_factory=dict)
    exit_statuses: dict[str, int] = Field(default_factory=dict)
    patch_statuses: dict[str, int] = Field(default_factory=dict)
    format_error_rate: Rate = Field(description="malformed replies among the model's replies")
    runs_with_format_errors: int = 0
    steps_median: float | None = None
    steps_mean: float | None = None
    per_step: PerStep
    task_s_median: float | None = None
    harness_s_median: float | None = Field(
        default=None, description="per task, all but model+tools"
    )
    grading_s_median: float | None = None
    completion_tokens_median: float | None = None
    by_group: dict[str, Rate] = Field(default_factory=dict)
    by_difficulty: dict[str, Rate] = Field(default_factory=dict)
    by_kind: dict[str, Rate] = Field(default_factory=dict)
    resolved_ids: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    policies: list[str] = Field(default_factory=list)
    adapter_versions: list[int | None] = Field(default_factory=list)


def _rates(results: list[TaskResult], key) -> dict[str, Rate]:
    groups: dict[str, list[TaskResult]] = {}
    for result in results:
        for value in key(result):
            groups.setdefault(value, []).append(result)
    return {g: rate(sum(r.resolved for r in rs), len(rs)) for g, rs in sorted(groups.items())}


def summarise_cell(cell: str, results: Iterable[TaskResult]) -> CellSummary:
    results = list(results)
    graded = [r for r in results if r.status.graded]
    errors = [r for r in results if r.status == TaskStatus.HARNESS_ERROR]
    timeouts = [r for r in results if r.status == TaskStatus.HARNESS_TIMEOUT]
    model_steps = sum(r.model_steps for r in graded)
    steps = sum(r.steps for r in graded)
    patch_statuses = Counter(
        (r.grade or {}).get("patch_status", "?") for r in graded if r.grade is not None
    )

    def per(field: str) -> float | None:
        return sum(getattr(r.timings, field) for r in graded) / steps if steps else None

    return CellSummary(
        cell=cell, tasks=len(results), graded=len(graded),
        resolved=rate(sum(r.resolved for r in graded), len(graded)),
        harness_errors=len(errors), harness_timeouts=len(timeouts),
        harness_by_phase=dict(Counter(r.phase or "?" for r in errors + timeouts)),
        exit_statuses=dict(Counter(r.exit_status or "none" for r in graded)),
        patch_statuses=dict(patch_statuses),
        format_error_rate=rate(sum(r.format_errors for r in graded), model_steps),
        runs_with_format_errors=sum(r.format_errors > 0 for r in graded),
        steps_median=median(r.steps for r in graded),
        steps_mean=steps / len(graded) if graded else None,
        per_step=PerStep(steps=steps, model_s=per("model_s"), tools_s=per("tools_s"),
                         monitor_s=per("monitor_s"), framework_s=per("framework_s")),
        task_s_median=median(r.timings.total_s for r in graded),
        harness_s_median=median(r.timings.harness_s for r in graded),
        grading_s_median=median(r.timings.grading_s for r in graded),
        completion_tokens_median=median(r.completion_tokens for r in graded),
        by_group=_rates(graded, lambda r: [r.labels["group"]] if "group" in r.labels else []),
        by_difficulty=_rates(
            graded, lambda r: [r.labels["difficulty"]] if "difficulty" in r.labels else []
        ),
        by_kind=_rates(graded, lambda r: [k for k in r.labels.get("kinds", "").split(",") if k]),
        resolved_ids=sorted(r.instance_id for r in graded if r.resolved),
        models=sorted({r.model_id for r in results if r.model_id}),
        policies=sorted({r.policy for r in results if r.policy}),
        adapter_versions=sorted({r.adapter_version for r in results},
                                key=lambda v: -1 if v is None else v),
    )  # fmt: skip
