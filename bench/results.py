"""What a bench run stores: its manifest and one result file per task, written atomically.

```
ENGRAM_HOME/bench/<run>/
  run.json                    RunManifest: command, config, task-set hash, seed, tracks
  tasks/<instance_id>.json    TaskResult of the resolve track
  inflight/<instance_id>.json a task being worked on (removed when its result is written)
  <track>/…/tasks/<id>.json   other tracks' cells (probe/on, learn/agent/r01/adapter, …)
  report/                     report.json, report.md, *.png
```

A result file appears complete or not at all (`agent.atomic`), so a killed run leaves
finished tasks finished; a task whose in-flight marker is still there was in flight
and is redone. Statuses keep the model's failures apart from the harness's own:

- `resolved` / `unresolved`: the agent ran and its diff was graded. Why a run ended
  (step limit, format errors, its time budget, …) is its `exit_status`; all of these are
  the model's outcome.
- `harness_error`: engram itself failed — checkout, sandbox, backend, the graph raised,
  the grader could not grade (`phase` says where). Never counted as a model failure.
- `harness_timeout`: the task passed the harness's hard time cap (`task_timeout_s`).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent import atomic
from agent.types import utcnow

RESULT_VERSION = 1
RESERVED_NAMES = {"repos", "grading", "sdists"}  # other users of ENGRAM_HOME/bench/


class BenchRunError(RuntimeError):
    """A bench run cannot start or resume; the message says what to do."""

    user_facing = True


class TaskStatus(StrEnum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    HARNESS_ERROR = "harness_error"
    HARNESS_TIMEOUT = "harness_timeout"

    @property
    def graded(self) -> bool:
        return self in (TaskStatus.RESOLVED, TaskStatus.UNRESOLVED)


Phase = Literal["setup", "agent", "grading", "bookkeeping"]


class Timings(BaseModel):
    """Seconds per task. model/tools/monitor/framework are sums over the run's steps
    (`Step.timings`); the rest is the harness's own time."""

    model_config = ConfigDict(extra="forbid")

    setup_s: float = 0.0  # task checkout, handles, adapter load
    agent_s: float = 0.0  # Runner.start, wall
    model_s: float = 0.0
    tools_s: float = 0.0
    monitor_s: float = 0.0
    framework_s: float = 0.0  # graph time inside steps (snapshots, parsing, …)
    verify_s: float = 0.0  # the agent's own test run at the end (a tool run by the graph)
    run_overhead_s: float = 0.0  # agent_s outside steps and verify: workspace, sandbox start
    grading_s: float = 0.0
    total_s: float = 0.0

    @property
    def harness_s(self) -> float:
        """Everything but the agent's model time and tools (its final test run included)."""
        return max(0.0, self.total_s - self.model_s - self.tools_s - self.verify_s)


class TaskResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int = RESULT_VERSION
    instance_id: str
    cell: str = Field(description="which arm/track cell this result belongs to")
    status: TaskStatus
    phase: Phase | None = Field(default=None, description="where a harness failure happened")
    error: str | None = None
    attempt: int = 1
    run_id: str | None = None
    seed: int
    exit_status: str | None = None
    exit_reason: str = ""
    agent_verified: bool | None = Field(
        default=None, description="the agent's own test run at the end passed"
    )
    steps: int = 0
    kept_steps: int = 0
    model_steps: int = 0
    format_errors: int = 0
    resampled: int = 0
    rolled_back: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    patch: str = ""
    grade: dict[str, Any] | None = Field(default=None, description="bench.grading.Grade")
    timings: Timings = Field(default_factory=Timings)
    model_id: str | None = None
    backend: str | None = None
    policy: str | None = None
    adapter_version: int | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    extras: dict[str, Any] = Field(default_factory=dict, description="what the arm's hooks noted")
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        return self.status == TaskStatus.RESOLVED


class RunManifest(BaseModel):
    """Everything needed to repeat or resume a run, and to say in a report what made it."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = RESULT_VERSION
    name: str
    created_at: datetime = Field(default_factory=utcnow)
    command: list[str] = Field(default_factory=list)
    tasks_file: str
    tasks_file_sha256: str
    task_set_hash: str = Field(description="sha256 of the selected tasks' records")
    task_ids: list[str]
    split: str | None = None
    limit: int | None = None
    seed: int = 0
    tracks: list[str]
    workers: int = 1
    oracle: bool = False
    config: dict[str, Any] = Field(description="the merged EngramConfig the runs use")
    options: dict[str, Any] = Field(default_factory=dict, description="track options")
    model_id: str | None = None
    backend: str | None = None
    engram_commit: str | None = None
    resumed: list[datetime] = Field(default_factory=list)


def check_name(name: str) -> str:
    if not name or "/" in name or name.startswith(".") or name in RESERVED_NAMES:
        raise BenchRunError(
            f"'{name}' cannot name a bench run (no '/', no leading '.', not one of "
            f"{', '.join(sorted(RESERVED_NAMES))})"
        )
    return name


class ResultStore:
    """Per-task results of one cell (a directory with tasks/ and inflight/)."""

    def __init__(self, root: Path, cell: str):
        self.root = root
        self.cell = cell

    @property
    def tasks_dir(self) -> Path:
        return self.root / "tasks"

    @property
    def inflight_dir(self) -> Path:
        return self.root / "inflight"

    def path(self, instance_id: str) -> Path:
        return self.tasks_dir / f"{instance_id}.json"

    def write(self, result: TaskResult) -> None:
        atomic.write_text(self.path(result.instance_id), result.model_dump_json(indent=2))
        (self.inflight_dir / f"{result.instance_id}.json").unlink(missing_ok=True)

    def load(self, instance_id: str) -> TaskResult | None:
        path = self.path(instance_id)
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format_version") != RESULT_VERSION:
            raise BenchRunError(f"{path} has format_version {data.get('format_version')}; this "
                                f"engram reads {RESULT_VERSION}. Start a new run.")  # fmt: skip
        return TaskResult.model_validate(data)

    def all(self) -> dict[str, TaskResult]:
        out: dict[str, TaskResult] = {}
        if not self.tasks_dir.is_dir():
            return out
        for path in sorted(self.tasks_dir.glob("*.json")):
            result = self.load(path.stem)
            if result is not None:
                out[result.instance_id] = result
        return out

    def mark_inflight(self, instance_id: str, attempt: int) -> None:
        record = {"instance_id": instance_id, "attempt": attempt, "pid": os.getpid(),
                  "started_at": utcnow().isoformat()}  # fmt: skip
        atomic.write_text(self.inflight_dir / f"{instance_id}.json", json.dumps(record))

    def note_run(self, instance_id: str, run_id: str) -> None:
        """Remember the agent run of an in-flight task (to clean it up if we are killed)."""
        path = self.inflight_dir / f"{instance_id}.json"
        record = json.loads(path.read_text()) if path.is_file() else {}
        atomic.write_text(path, json.dumps({**record, "run_id": run_id}))

    def stale_inflight(self) -> list[dict[str, Any]]:
        """Markers left by a killed process: those tasks were in flight and are redone."""
        if not self.inflight_dir.is_dir():
            return []
        out = []
        for path in sorted(self.inflight_dir.glob("*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                out.append({"instance_id": path.stem})
        return out

    def clear_inflight(self, instance_id: str) -> None:
        (self.inflight_dir / f"{instance_id}.json").unlink(missing_ok=True)


def load_manifest(run_dir: Path) -> RunManifest:
    path = run_dir / "run.json"
    if not path.is_file():
        raise BenchRunError(f"{run_dir} is not a bench run (no run.json). List runs with "
                            "`ls $ENGRAM_HOME/bench`, or start one with `engram bench run`.")  # fmt: skip
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format_version") != RESULT_VERSION:
        raise BenchRunError(f"{path} has format_version {data.get('format_version')}; this "
                            f"engram reads {RESULT_VERSION}")  # fmt: skip
    return RunManifest.model_validate(data)


def save_manifest(run_dir: Path, manifest: RunManifest) -> None:
    atomic.write_text(run_dir / "run.json", manifest.model_dump_json(indent=2))


def bench_run_ids(bench_dir: Path) -> set[str]:
    """Every agent run a bench run made: each task's run and its best-of-k samples, in
    every cell (probe data is selected by these ids)."""
    ids: set[str] = set()
    for path in bench_dir.rglob("tasks/*.json"):
        result = json.loads(path.read_text())
        if result.get("run_id"):
            ids.add(result["run_id"])
        ids.update(s["run_id"] for s in result.get("extras", {}).get("samples", []))
    return ids
