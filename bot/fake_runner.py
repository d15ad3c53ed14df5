"""ScriptedRunner: a fake `AgentRunner` for testing the bot's logic without a model.

It does what the real agent does to git — a private workspace clone of `repo_path`
(`sandboxes.workspace.Workspace`), edits there, the result published host-side as a
real commit on `engram/<run-id>` in `repo_path`, a trajectory JSON under
`ENGRAM_HOME/runs/<run-id>/` — but its edits, test results and probe readings come
from a script instead of a model. It is a fake: nothing it reports was measured.

`from_env` builds one from the JSON file named by `ENGRAM_FAKE_RUNNER_SCRIPT`, so
tests can drive `engram bot worker --runner bot.fake_runner:from_env` in a subprocess.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import Field

from agent import atomic
from agent.home import Home
from agent.types import (
    ExitStatus,
    Model,
    Observation,
    ProbeReading,
    Step,
    Task,
    ToolCall,
    Trajectory,
    Verification,
    utcnow,
)
from bot.runner import ProbeSummary, RunLimits, RunOutcome
from sandboxes.repo import repo_identity
from sandboxes.workspace import Workspace

SCRIPT_ENV = "ENGRAM_FAKE_RUNNER_SCRIPT"


class RunScript(Model):
    edits: dict[str, str] = Field(default_factory=dict, description="path → new file content")
    summary: str = "scripted change"
    verification: Verification | None = None
    readings: list[ProbeReading] = Field(default_factory=list, description="one per edit step")
    delay_s: float = Field(default=0.0, ge=0, description="pretend to think this long")
    started_marker: Path | None = Field(default=None, description="touched when a run starts")
    fail_with: str | None = Field(default=None, description="raise this instead of running")


class ScriptedRunnerError(RuntimeError):
    pass


class ScriptedRunner:
    """A fake runner (see module docstring); counts its runs in `runs`."""

    def __init__(self, script: RunScript, home: Home | None = None):
        self.script = script
        self.home = home or Home.resolve()
        self.runs: list[str] = []

    def run(self, task: Task, repo_path: Path, limits: RunLimits) -> RunOutcome:
        run_id = f"{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.runs.append(run_id)
        if self.script.started_marker is not None:
            atomic.write_text(self.script.started_marker, run_id)
        if self.script.fail_with:
            raise ScriptedRunnerError(self.script.fail_with)
        time.sleep(min(self.script.delay_s, limits.max_wall_s))
        timed_out = self.script.delay_s >= limits.max_wall_s

        run_dir = self.home.run_dir(run_id)
        ws = Workspace.create(
            repo_path, self.home.worktrees / run_id, run_dir / "snapshots.git", run_id
        )
        try:
            steps: list[Step] = []
            status, reason = ExitStatus.SUBMITTED, "scripted edits applied"
            if timed_out:
                status, reason = ExitStatus.TIME_LIMIT, f"wall time {limits.max_wall_s:g}s reached"
            for index, (rel, text) in enumerate(sorted(self.script.edits.items())):
                if timed_out:
                    break
                if index >= limits.max_steps:
                    status, reason = ExitStatus.STEP_LIMIT, f"{limits.max_steps} steps reached"
                    break
                target = ws.path / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                readings = self.script.readings[index : index + 1]
                steps.append(
                    Step(
                        index=index,
                        message=f"write {rel}",
                        action=ToolCall(name="write_file", arguments={"path": rel}),
                        observation=Observation(text=f"wrote {rel}"),
                        readings=readings,
                    )
                )
            ws.snapshots.snapshot("final")
            title = task.problem_statement.strip().splitlines()[0] if task.problem_statement else ""
            commit = ws.publish_branch(f"engram: {title[:60]}\n\nrun {run_id}\n")
            diff = ws.diff()
            trajectory = Trajectory(
                run_id=run_id,
                task=task,
                repo_id=repo_identity(repo_path).id,
                model_id="scripted",
                backend="fake",
                branch=ws.branch,
                base_commit=ws.base_commit,
                steps=steps,
                exit_status=status,
                exit_reason=reason,
                final_diff=diff,
                verification=self.script.verification,
                verified_by="tests"
                if self.script.verification and self.script.verification.passed
                else None,
                ended_at=utcnow(),
            )
            path = run_dir / "trajectory.json"
            atomic.write_text(path, trajectory.model_dump_json(indent=2))
            return RunOutcome(
                run_id=run_id,
                branch=ws.branch,
                base_commit=ws.base_commit,
                commit=commit,
                diff=diff,
                summary=self.script.summary,
                verification=self.script.verification,
                probes=ProbeSummary.from_trajectory(trajectory),
                exit_status=status,
                exit_reason=reason,
                steps=len(steps),
                trajectory_path=path,
            )
        finally:
            ws.remove()


def from_env(config: Any = None) -> ScriptedRunner:
    """Factory for `--runner bot.fake_runner:from_env` (tests only)."""
    raw = os.environ.get(SCRIPT_ENV)
    if not raw:
        raise ScriptedRunnerError(f"{SCRIPT_ENV} is not set")
    return ScriptedRunner(RunScript.model_validate_json(Path(raw).read_text()))
