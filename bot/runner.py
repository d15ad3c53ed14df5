"""The seam between the bot and the agent: `AgentRunner`.

The bot does not know how the agent works. It hands a runner a `Task`, the path of a
clone of the repository checked out at the base commit, and the job's limits; the
runner works in its own sandbox and returns a `RunOutcome`.

Contract (checked by `tests/bot/test_runner_contract.py` against every implementation):

- `run` never modifies the files of `repo_path`'s checkout; its result reaches
  `repo_path` as a commit on the branch `outcome.branch` (a local branch, whose name
  the runner chooses), whose parent is `outcome.base_commit`. `commit` is None when
  the run changed nothing; then no branch need exist.
- `diff` is `git diff base_commit commit` of that branch (empty when nothing changed).
- `trajectory_path` names a JSON file that parses as `agent.types.Trajectory` with
  `run_id == outcome.run_id`, written before `run` returns (even for failed runs).
- limits are honoured: the run stops after `max_steps` steps or `max_wall_s` seconds
  with the matching exit status, and returns normally.
- failures of the agent's own work (tests fail, step limit) are outcomes, not
  exceptions; `run` raises only when the runner itself cannot work (no model, no
  sandbox) — the bot then reports the job failed.

Not guaranteed: that tests ran (`verification` may be None), or that probes ran.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import Field

from agent.types import ExitStatus, Model, Task, Trajectory, Verification


class RunLimits(Model):
    max_steps: int = Field(ge=1)
    max_wall_s: float = Field(gt=0)


class ProbeSummary(Model):
    """What the hallucination probes saw during the run, for the PR's probe report."""

    enabled: bool = False
    steps_scored: int = 0
    alarms: int = 0
    resampled: int = 0
    rolled_back: int = 0
    max_step_score: float | None = None
    max_prefix_score: float | None = None
    step_threshold: float | None = None
    prefix_threshold: float | None = None
    note: str = ""

    @classmethod
    def from_trajectory(cls, trajectory: Trajectory) -> ProbeSummary:
        def is_scored(r) -> bool:
            return r.step_score is not None or r.prefix_score is not None

        scored = [r for step in trajectory.steps for r in step.readings if is_scored(r)]
        step_scores = [r.step_score for r in scored if r.step_score is not None]
        prefix_scores = [r.prefix_score for r in scored if r.prefix_score is not None]
        alarms = [r for r in scored if r.decision.value in ("resample", "rollback")]
        thresholds = [r for r in scored if r.step_threshold is not None]
        return cls(
            enabled=bool(scored),
            steps_scored=sum(1 for s in trajectory.steps if any(map(is_scored, s.readings))),
            alarms=len(alarms),
            resampled=sum(1 for s in trajectory.steps if s.resampled),
            rolled_back=sum(1 for s in trajectory.steps if s.rolled_back),
            max_step_score=max(step_scores) if step_scores else None,
            max_prefix_score=max(prefix_scores) if prefix_scores else None,
            step_threshold=thresholds[-1].step_threshold if thresholds else None,
            prefix_threshold=thresholds[-1].prefix_threshold if thresholds else None,
            note="" if scored else "no probe readings in this run",
        )


class RunOutcome(Model):
    run_id: str
    branch: str = Field(description="local branch in repo_path holding `commit`")
    base_commit: str
    commit: str | None = Field(default=None, description="None: the run changed nothing")
    diff: str = ""
    summary: str = Field(default="", description="the agent's own account of what it did")
    verification: Verification | None = Field(
        default=None, description="the tests run on the final tree and their results"
    )
    probes: ProbeSummary = Field(default_factory=ProbeSummary)
    exit_status: ExitStatus
    exit_reason: str = ""
    steps: int = 0
    trajectory_path: Path

    @property
    def changed(self) -> bool:
        return self.commit is not None and bool(self.diff.strip())


@runtime_checkable
class AgentRunner(Protocol):
    def run(self, task: Task, repo_path: Path, limits: RunLimits) -> RunOutcome: ...


class RunnerUnavailable(RuntimeError):
    user_facing = True


#: Where the real agent's runner factory is expected (the lead's `engram run` machinery).
DEFAULT_RUNNER = "bot.agent_runner:make_runner"


def resolve_runner_factory(spec: str) -> Callable[[Any], Any]:
    """Import `module:factory` (not call it): cheap, so workers check it at start-up."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise RunnerUnavailable(f"runner '{spec}' is not of the form module:factory")
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise RunnerUnavailable(
            f"cannot load the agent runner '{spec}': {exc}. Check that engram is fully "
            "installed (`make install`), or pass --runner module:factory."
        ) from exc
    if not callable(factory):
        raise RunnerUnavailable(f"runner '{spec}' is not callable")
    return factory


def load_runner(spec: str, config: Any) -> AgentRunner:
    """Build a runner from `module:factory`; the factory takes the merged EngramConfig.

    The bot never imports the agent at module level: `engram bot serve` must not load
    LangGraph or torch, and workers build the runner once, on the first job needing it.
    """
    runner = resolve_runner_factory(spec)(config)
    if not isinstance(runner, AgentRunner):
        raise RunnerUnavailable(f"'{spec}' returned {type(runner).__name__}, not an AgentRunner")
    return runner
