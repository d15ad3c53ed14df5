"""The real agent behind the bot's `AgentRunner` seam.

Builds the backend once per worker (the slow part: the model load) and one graph run
per job, with the job's limits applied on top of the merged config. The run's branch
lands in the job's clone as a local branch, which the bot then pushes.
"""

from __future__ import annotations

from pathlib import Path

from agent.config import EngramConfig
from agent.types import Task
from bot.runner import ProbeSummary, RunLimits, RunOutcome


class AgentGraphRunner:
    def __init__(self, config: EngramConfig, backend=None):
        self.config = config
        self._backend = backend

    def _llm(self, home):
        if self._backend is None:
            from agent.assembly import make_backend

            self._backend = make_backend(self.config, home)
        return self._backend

    def run(self, task: Task, repo_path: Path, limits: RunLimits) -> RunOutcome:
        from agent.assembly import build_handles
        from agent.home import Home
        from agent.run import Runner
        from sandboxes.repo import repo_identity

        home = Home.resolve()
        config = self.config.model_copy(deep=True)
        config.agent.max_steps = limits.max_steps
        config.agent.max_wall_s = limits.max_wall_s
        repo_id = repo_identity(repo_path).id
        handles = build_handles(config, home, task, repo_id, self._llm(home))
        runner = Runner(home, config)
        trajectory = runner.start(task, repo_path, handles)
        if trajectory.eligible_for_learning:
            # A bot run teaches only once a human merges its PR (bot/verdict.py), not
            # because its tests passed.
            trajectory.eligible_for_learning = False
            runner.store.save(trajectory)
        commit = None
        if trajectory.branch:
            from sandboxes.gitcmd import git

            commit = git(["rev-parse", trajectory.branch], cwd=repo_path).strip()
        kept = trajectory.kept_steps
        thought = next((s.thought for s in reversed(kept) if s.thought), "")
        return RunOutcome(
            run_id=trajectory.run_id, branch=trajectory.branch or f"engram/{trajectory.run_id}",
            base_commit=trajectory.base_commit or "", commit=commit, diff=trajectory.final_diff,
            summary=thought, verification=trajectory.verification,
            probes=ProbeSummary.from_trajectory(trajectory), exit_status=trajectory.exit_status,
            exit_reason=trajectory.exit_reason, steps=len(kept),
            trajectory_path=runner.store.run_dir(trajectory.run_id) / "trajectory.json",
        )  # fmt: skip


def make_runner(config: EngramConfig) -> AgentGraphRunner:
    return AgentGraphRunner(config)
