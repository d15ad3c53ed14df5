"""Run orchestration: start, resume and fork runs of the graph.

A run is: a private workspace cloned from the user's repo at the base commit, a
sandbox over it, the graph checkpointed to SQLite after every node (each checkpoint
carries the workspace snapshot ref), and a trajectory written step by step. Whatever
ends the run — submit, a limit, Ctrl-C, an exception — the trajectory is saved; the
result reaches the user's repository only as a branch `engram/<run-id>` (made
host-side, their checkout untouched) plus `patch.diff`.

Resume and fork restore **both** the conversation (LangGraph state) and the files
(the snapshot the checkpoint names): the workspace is rebuilt from the base commit
and the run's host-side snapshot store, so even a deleted workspace can be resumed.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.backends.base import LLMBackend
from agent.config import EngramConfig
from agent.graph.builder import build_graph
from agent.graph.context import Event, EventSink, RunContext, Toolset, Verifier
from agent.graph.state import AgentState, new_counters, steps_of
from agent.home import Home
from agent.monitor import AcceptAll, Monitor
from agent.policies.base import Policy
from agent.policies.freeform import FreeformPolicy
from agent.types import ExitStatus, Task, Trajectory, Verification, utcnow
from memory.trajectories import TrajectoryStore
from sandboxes.base import Sandbox
from sandboxes.repo import repo_identity
from sandboxes.workspace import Workspace


class RunError(RuntimeError):
    """A run cannot start or continue; the message says what to do."""

    user_facing = True


def new_run_id() -> str:
    return f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


@dataclass
class RunSpec:
    """What is needed to rebuild a run's context after a crash (stored as run.json)."""

    run_id: str
    repo: str
    repo_id: str
    base_commit: str
    branch: str
    task: dict[str, Any]
    config: dict[str, Any]
    model_id: str
    backend: str
    adapter: str | None
    adapter_version: int | None
    policy: str
    parent_run: str | None = None
    forked_at: int | None = None

    def save(self, path: Path) -> None:
        from agent import atomic

        atomic.write_text(path, json.dumps(self.__dict__, indent=2))

    @classmethod
    def load(cls, path: Path) -> RunSpec:
        if not path.is_file():
            raise RunError(f"{path} is missing: this run cannot be resumed")
        return cls(**json.loads(path.read_text()))


@dataclass
class Handles:
    """The heavy objects a run uses; built by the caller (CLI, bench, bot, tests)."""

    backend: LLMBackend
    make_sandbox: Callable[[Workspace], Sandbox]
    make_tools: Callable[[Sandbox, Workspace], Toolset]
    make_verifier: Callable[[Sandbox, Workspace], Verifier]
    system_prompt: Callable[[Toolset, Workspace], str]
    monitor: Monitor = field(default_factory=AcceptAll)
    events: EventSink = lambda event: None
    adapter: str | None = None
    adapter_version: int | None = None
    native_tools: bool = False
    capture_layer: int | None = None
    policy: Policy = field(default_factory=FreeformPolicy)
    before_node: Callable[[str], None] | None = None
    repo_notes: str | None = None  # memory's notes about the repo, for the prompts


class Runner:
    def __init__(self, home: Home, config: EngramConfig):
        self.home = home
        self.config = config
        home.ensure(home.runs, home.worktrees)
        self.store = TrajectoryStore(home.runs)

    # -- paths -------------------------------------------------------------------

    def _spec_path(self, run_id: str) -> Path:
        return self.home.run_dir(run_id) / "run.json"

    def _snapshots(self, run_id: str) -> Path:
        return self.home.run_dir(run_id) / "snapshots.git"

    def _workspace_path(self, run_id: str) -> Path:
        return self.home.worktrees / run_id

    def _checkpointer(self):
        from langgraph.checkpoint.sqlite import SqliteSaver

        conn = sqlite3.connect(self.home.checkpoints, check_same_thread=False, timeout=30)
        _enable_wal(conn)
        return SqliteSaver(conn)

    @staticmethod
    def _thread(run_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": run_id}}

    # -- public ------------------------------------------------------------------

    def start(
        self, task: Task, repo: Path, handles: Handles, run_id: str | None = None
    ) -> Trajectory:
        run_id = run_id or new_run_id()
        identity = repo_identity(repo)
        workspace = Workspace.create(
            repo, self._workspace_path(run_id), self._snapshots(run_id), run_id, task.base_commit
        )
        spec = RunSpec(
            run_id=run_id, repo=str(workspace.repo), repo_id=identity.id,
            base_commit=workspace.base_commit, branch=workspace.branch,
            task=task.model_dump(mode="json"), config=self.config.model_dump(mode="json"),
            model_id=handles.backend.model_id, backend=handles.backend.name,
            adapter=handles.adapter, adapter_version=handles.adapter_version, policy=handles.policy.name,
        )  # fmt: skip
        spec.save(self._spec_path(run_id))
        trajectory = self._header(spec, task)
        self.store.begin(trajectory)
        state: AgentState = {
            "steps": [], "pending": None, "decision": None, "snapshot": workspace.base_snapshot,
            "counters": new_counters(), "temperature_boost": 0.0, "exit_status": None,
            "exit_reason": "", "verification": None, "notes": [],
        }  # fmt: skip
        if workspace.dirty_source:
            handles.events(Event("note", text="your checkout has uncommitted changes: the run "
                                 "starts from the last commit, without them"))  # fmt: skip
        return self._drive(spec, workspace, handles, state)

    def resume(self, run_id: str, handles: Handles) -> Trajectory:
        spec = RunSpec.load(self._spec_path(run_id))
        saver = self._checkpointer()
        graph = build_graph(saver)
        snapshot = graph.get_state(self._thread(run_id))
        if not snapshot.values:
            raise RunError(f"run {run_id} has no checkpoint to resume from")
        if not snapshot.next:
            raise RunError(f"run {run_id} already finished ({snapshot.values.get('exit_status')})")
        workspace = self._rebuild_workspace(spec, spec.run_id, snapshot.values["snapshot"])
        self.store.rewrite_steps(run_id, steps_of(snapshot.values))
        return self._drive(spec, workspace, handles, None, graph=graph, saver=saver)

    def fork(self, run_id: str, at_step: int, handles: Handles) -> Trajectory:
        """A new run that continues `run_id` from just after its kept step number `at_step`."""
        spec = RunSpec.load(self._spec_path(run_id))
        saver = self._checkpointer()
        graph = build_graph(saver)
        chosen = None
        for snap in graph.get_state_history(self._thread(run_id)):
            values = snap.values or {}
            kept = [s for s in steps_of(values) if s.kept] if values else []
            if (
                snap.next == ("call_model",)
                and len(kept) == at_step
                and not values.get("exit_status")
            ):
                chosen = snap
                break  # history is newest first: the latest state with that many kept steps
        if chosen is None:
            raise RunError(f"run {run_id} has no point after step {at_step} to fork from")
        new_id = new_run_id()
        self.home.run_dir(new_id).mkdir(parents=True)
        shutil.copytree(self._snapshots(run_id), self._snapshots(new_id))
        fork_spec = RunSpec(**{**spec.__dict__, "run_id": new_id, "branch": f"engram/{new_id}",
                               "parent_run": run_id, "forked_at": at_step})  # fmt: skip
        fork_spec.save(self._spec_path(new_id))
        workspace = self._rebuild_workspace(fork_spec, new_id, chosen.values["snapshot"])
        self.store.begin(self._header(fork_spec, Task.model_validate(spec.task)))
        self.store.rewrite_steps(new_id, steps_of(chosen.values))
        graph.update_state(self._thread(new_id), chosen.values, as_node="act")
        return self._drive(fork_spec, workspace, handles, None, graph=graph, saver=saver)

    # -- internals ---------------------------------------------------------------

    def _rebuild_workspace(self, spec: RunSpec, run_id: str, snapshot_ref: str) -> Workspace:
        path = self._workspace_path(run_id)
        if path.exists():
            shutil.rmtree(path)
        # A fresh clone at the base commit, attached to the run's existing snapshot store.
        workspace = Workspace.create(
            Path(spec.repo), path, self._snapshots(run_id), run_id, spec.base_commit
        )
        workspace.snapshots.restore(snapshot_ref)
        return workspace

    def _header(self, spec: RunSpec, task: Task) -> Trajectory:
        return Trajectory(
            run_id=spec.run_id, task=task, repo_id=spec.repo_id, model_id=spec.model_id,
            backend=spec.backend, policy=spec.policy, adapter_version=spec.adapter_version,
            branch=spec.branch, base_commit=spec.base_commit, seed=self.config.model.seed,
            parent_run=spec.parent_run, forked_at=spec.forked_at,
        )  # fmt: skip

    def _drive(self, spec: RunSpec, workspace: Workspace, handles: Handles,
               initial: AgentState | None, graph=None, saver=None) -> Trajectory:  # fmt: skip
        if graph is None:
            saver = self._checkpointer()
            graph = build_graph(saver)
        task = Task.model_validate(spec.task)
        sandbox = handles.make_sandbox(workspace)
        status: ExitStatus | None = None
        reason = ""
        error: BaseException | None = None
        try:
            tools = handles.make_tools(sandbox, workspace)
            ctx = RunContext(
                run_id=spec.run_id, task=task, config=self.config, backend=handles.backend,
                sandbox=sandbox, workspace=workspace, tools=tools,
                verifier=handles.make_verifier(sandbox, workspace), monitor=handles.monitor,
                store=self.store, system_prompt=handles.system_prompt(tools, workspace),
                adapter=handles.adapter, native_tools=handles.native_tools,
                capture_layer=handles.capture_layer, events=handles.events, policy=handles.policy,
                before_node=handles.before_node, repo_notes=handles.repo_notes,
            )  # fmt: skip
            handles.monitor.reset()
            handles.monitor.replay([s for s in steps_of(initial or graph.get_state(
                self._thread(spec.run_id)).values) if s.kept])  # fmt: skip
            graph.invoke(initial, self._thread(spec.run_id), context=ctx, durability="sync")
        except KeyboardInterrupt as exc:
            status, reason, error = (
                ExitStatus.INTERRUPTED,
                "interrupted (resume with `engram runs resume`)",
                exc,
            )
        except BaseException as exc:
            status, reason, error = ExitStatus.ERROR, f"{type(exc).__name__}: {exc}", exc
        finally:
            sandbox.close()
        trajectory = self._finalise(spec, workspace, graph, status, reason)
        if error is not None:
            raise error
        return trajectory

    def _finalise(self, spec: RunSpec, workspace: Workspace, graph, status: ExitStatus | None,
                  reason: str) -> Trajectory:  # fmt: skip
        values = graph.get_state(self._thread(spec.run_id)).values or {}
        trajectory = self.store.load(spec.run_id)
        if values:
            trajectory.steps = steps_of(values)
            counters = values["counters"]
            trajectory.usage = trajectory.usage.model_copy(update={
                "prompt_tokens": counters["prompt_tokens"],
                "completion_tokens": counters["completion_tokens"]})  # fmt: skip
            if values.get("verification"):
                trajectory.verification = Verification.model_validate(values["verification"])
        if status is None:
            status = ExitStatus(values.get("exit_status") or ExitStatus.ERROR.value)
            reason = values.get("exit_reason", "")
        trajectory.exit_status = status
        trajectory.exit_reason = reason
        trajectory.ended_at = utcnow()
        trajectory.final_diff = workspace.diff()
        if (
            trajectory.verification
            and trajectory.verification.passed
            and status == ExitStatus.SUBMITTED
        ):
            trajectory.verified_by = "tests"
            trajectory.eligible_for_learning = True
        if status in (ExitStatus.INTERRUPTED, ExitStatus.ERROR):
            # Resumable: keep the header open (exit_status None) but record what happened.
            self.store.update_header(trajectory.model_copy(update={"exit_status": None}))
            self.store.rewrite_steps(spec.run_id, trajectory.steps)
            trajectory.branch = None
            return trajectory
        commit = workspace.publish_branch(
            f"engram: {trajectory.task.id}\n\n{trajectory.exit_reason}"
        )
        if commit is None:
            trajectory.branch = None
        self.store.finish(trajectory)
        workspace.remove()
        return trajectory


def _enable_wal(conn: sqlite3.Connection, tries: int = 100) -> None:
    """Switch the checkpoint database to WAL. Two runs starting together on a fresh
    database (bench workers) race for the switch, and SQLite answers the loser "database
    is locked" at once instead of waiting on its busy handler: retry a while."""
    for attempt in range(tries):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.05 + 0.01 * attempt)
