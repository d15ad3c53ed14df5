"""Run the agent over bench tasks and grade what it did: one cell (an arm of a track) at a time.

Per task: the task repository at its base commit (`bench.repos.task_checkout`), a fresh
agent run in its own sandbox (`agent.run.Runner.start`), then the run's diff graded by
`bench.grading.Grader` in another fresh sandbox. Each result is written atomically as
soon as the task ends (`bench.results`), so a killed run resumes: finished tasks are
skipped, a task that was in flight is redone from scratch (its half-done agent run is
left in the run store and its worktree removed).

**Parallelism.** `workers` threads in one process share one backend: the model is the
expensive piece (1.7 GB and seconds to load for the embedded model), and on a CPU
machine a second copy would compete for the same cores. The in-process backends
serialise generation themselves (`hf` holds a lock), so with N workers one task
generates while the others run tools, tests and grading. A remote backend (`openai`)
takes concurrent requests. Measured in docs/bench.md (`scripts/bench_harness.py`).
Caveat: a run's `agent.max_wall_s` counts its nodes' time, which includes waiting for
the shared model; with several workers over one in-process model, give runs more time
or compare time-limited arms at `--workers 1`.

**Seeds.** A task's seed is a hash of the run's seed and the instance id, so its result
does not depend on which worker took it or in which order tasks finished.

**Time cap.** Besides the agent's own limits, the harness caps each task's agent phase
(`task_timeout_s`); it is checked between graph nodes, so a run past it ends at its
next node and is recorded as `harness_timeout`. Not guaranteed: a single node that
never returns is not interrupted (commands and generation have their own limits).
"""

from __future__ import annotations

import shutil
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.backends.base import LLMBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.run import Handles
from agent.types import ExitStatus, Trajectory, content_hash, utcnow
from bench.grading import Grade, Grader
from bench.results import ResultStore, TaskResult, TaskStatus
from bench.tasks import BenchTask

BackendProvider = Callable[[BenchTask], LLMBackend]


class StopsRun(Protocol):
    """Errors with `stops_run = True` end the whole cell instead of failing one task (a
    track's dependency missing, a backend that cannot do what the arm needs); the task
    stays in flight and is redone when the run is resumed."""

    stops_run: bool


class HarnessTimeout(RuntimeError):
    """The task passed the harness's time cap (raised between graph nodes)."""


class BenchInterrupted(BaseException):
    """The whole bench run is stopping (Ctrl-C): tasks in flight are left to be redone."""


def task_seed(run_seed: int, instance_id: str) -> int:
    """A task's seed: a function of the run's seed and the task alone (order-free)."""
    return int(content_hash([run_seed, instance_id])[:8], 16)


@dataclass
class TaskContext:
    """What an arm's hooks see of one task's run."""

    task: BenchTask
    checkout: Path
    repo_id: str
    backend: LLMBackend  # as the provider gave it (before any probe teacher wraps it)
    handles: Handles
    config: EngramConfig
    home: Home
    extras: dict[str, Any] = field(default_factory=dict)  # stored in the result
    scratch: dict[str, Any] = field(default_factory=dict)  # hooks' own objects (not stored)


class RunHook(Protocol):
    """An arm's change to a task's run: before it starts (notes in the prompt, an
    adapter, a recording monitor) and after it is graded (write probe features)."""

    def before(self, ctx: TaskContext) -> None: ...

    def after(self, ctx: TaskContext, trajectory: Trajectory, grade: Grade) -> None: ...


@dataclass
class Arm:
    """One cell's settings: config overrides, where its runs are stored, hooks."""

    name: str
    flags: dict[str, Any] = field(default_factory=dict)  # dotted config keys
    runs_home: Home | None = None  # None: the bench home's runs/
    hooks: list[RunHook] = field(default_factory=list)
    # Only the learn track's stream sets this: a resolved run of a *training* task becomes
    # eligible for learning. Every other bench run is kept out of memory's reach.
    learn: bool = False


@dataclass
class RunnerOptions:
    workers: int = 1
    seed: int = 0
    task_timeout_s: float | None = None  # None: 2 × agent.max_wall_s + 300
    grade_timeout_s: float = 600.0
    retry_errors: bool = True  # a resumed cell redoes tasks that ended in a harness failure


ReportFn = Callable[[TaskResult, int, int], None]  # result, done so far, total


def config_with(
    config: EngramConfig, flags: dict[str, Any], seed: int | None = None
) -> EngramConfig:
    """`config` with dotted-key overrides (validated) and, if given, the model seed."""
    tree = config.model_dump(mode="json")
    for dotted, value in flags.items():
        section, _, key = dotted.partition(".")
        tree.setdefault(section, {})[key] = value
    if seed is not None:
        tree["model"]["seed"] = seed
    return EngramConfig.model_validate(tree)


def _step_sums(trajectory: Trajectory) -> dict[str, float]:
    sums = {"model_s": 0.0, "tools_s": 0.0, "monitor_s": 0.0, "framework_s": 0.0, "total": 0.0}
    for step in trajectory.steps:
        t = step.timings
        sums["model_s"] += t.model_s
        sums["tools_s"] += t.tools_s
        sums["monitor_s"] += t.monitor_s
        sums["framework_s"] += t.framework_s
        sums["total"] += max(t.total_s, t.model_s + t.tools_s + t.monitor_s)
    return sums


def _fill_from_trajectory(result: TaskResult, trajectory: Trajectory) -> None:
    steps = trajectory.steps
    result.run_id = trajectory.run_id
    result.exit_status = trajectory.exit_status.value if trajectory.exit_status else None
    result.exit_reason = trajectory.exit_reason
    result.steps = len(steps)
    result.kept_steps = len(trajectory.kept_steps)
    result.model_steps = sum(s.actor == "model" for s in steps)
    result.format_errors = sum(s.format_error is not None for s in steps)
    result.resampled = sum(s.resampled for s in steps)
    result.rolled_back = sum(s.rolled_back for s in steps)
    result.prompt_tokens = sum(s.tokens.prompt_tokens for s in steps)
    result.completion_tokens = sum(s.tokens.completion_tokens for s in steps)
    result.patch = trajectory.final_diff
    result.model_id, result.backend = trajectory.model_id, trajectory.backend
    result.policy, result.adapter_version = trajectory.policy, trajectory.adapter_version
    sums = _step_sums(trajectory)
    t = result.timings
    t.model_s, t.tools_s = round(sums["model_s"], 3), round(sums["tools_s"], 3)
    t.monitor_s, t.framework_s = round(sums["monitor_s"], 3), round(sums["framework_s"], 3)
    verification = trajectory.verification
    t.verify_s = round(verification.duration_s, 3) if verification is not None else 0.0
    t.run_overhead_s = round(max(0.0, t.agent_s - sums["total"] - t.verify_s), 3)


def _labels(task: BenchTask) -> dict[str, str]:
    labels = dict(task.to_task().labels)
    labels["split"] = task.split or "any"
    labels["repo"] = task.repo
    return labels


class BenchRunner:
    def __init__(
        self,
        home: Home,
        config: EngramConfig,
        backends: BackendProvider,
        options: RunnerOptions | None = None,
        report: ReportFn = lambda result, done, total: None,
        note: Callable[[str], None] = lambda text: None,
        grader: Grader | None = None,
    ):
        self.home = home
        self.config = config
        self.backends = backends
        self.options = options or RunnerOptions()
        self.report = report
        self.note = note
        self.grader = grader or Grader(
            settings=config.sandbox, work_dir=home.bench / "grading",
            timeout_s=self.options.grade_timeout_s, images_dir=home.images,
        )  # fmt: skip
        self.stop = threading.Event()

    # -- a cell ------------------------------------------------------------------

    def run(
        self, tasks: Sequence[BenchTask], store: ResultStore, arm: Arm
    ) -> dict[str, TaskResult]:
        """Run every task of the cell that has no result yet; return all its results."""
        runs_home = arm.runs_home or self.home
        runs_home.ensure(runs_home.runs, runs_home.worktrees)
        for stale in store.stale_inflight():
            self._forget_inflight(store, stale, runs_home)
        done = store.all()
        todo: list[tuple[BenchTask, int]] = []
        for task in tasks:
            old = done.get(task.instance_id)
            if old is None:
                todo.append((task, 1))
            elif not old.status.graded and self.options.retry_errors:
                self.note(f"{task.instance_id}: redoing after {old.status.value} ({old.error})")
                todo.append((task, old.attempt + 1))
        total, finished = len(tasks), len(tasks) - len(todo)
        if not todo:
            return {t.instance_id: done[t.instance_id] for t in tasks if t.instance_id in done}
        lock = threading.Lock()
        with ThreadPoolExecutor(max_workers=max(1, self.options.workers),
                                thread_name_prefix="bench") as pool:  # fmt: skip
            pending: set[Future] = {pool.submit(self._one, t, a, store, arm) for t, a in todo}
            try:
                while pending:
                    ready, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in ready:
                        result = future.result()
                        if result is None:
                            continue  # interrupted: left in flight
                        with lock:
                            finished += 1
                            done[result.instance_id] = result
                        self.report(result, finished, total)
            except BaseException:
                # Ctrl-C (or a bug here): let the runs in flight end at their next node.
                self.stop.set()
                for future in pending:
                    future.cancel()
                raise
        if self.stop.is_set():
            raise BenchInterrupted()
        return {t.instance_id: done[t.instance_id] for t in tasks if t.instance_id in done}

    def _forget_inflight(self, store: ResultStore, stale: dict[str, Any], runs_home: Home) -> None:
        run_id = stale.get("run_id")
        if run_id:
            shutil.rmtree(runs_home.worktrees / run_id, ignore_errors=True)
        self.note(f"{stale.get('instance_id')}: was in flight when the run stopped; redoing it"
                  + (f" (its unfinished agent run {run_id} stays in the run store)" if run_id else ""))  # fmt: skip
        store.clear_inflight(str(stale.get("instance_id")))

    # -- one task ----------------------------------------------------------------

    def _one(
        self, task: BenchTask, attempt: int, store: ResultStore, arm: Arm
    ) -> TaskResult | None:
        if self.stop.is_set():
            return None
        try:
            return self._task(task, attempt, store, arm)
        except BenchInterrupted:
            return None

    def _task(self, task: BenchTask, attempt: int, store: ResultStore, arm: Arm) -> TaskResult:
        from agent.assembly import build_handles
        from bench.repos import task_checkout
        from sandboxes.repo import repo_identity

        started = time.monotonic()
        store.mark_inflight(task.instance_id, attempt)
        seed = task_seed(self.options.seed, task.instance_id)
        result = TaskResult(instance_id=task.instance_id, cell=store.cell, attempt=attempt,
                            seed=seed, status=TaskStatus.HARNESS_ERROR, labels=_labels(task))  # fmt: skip
        runs_home = arm.runs_home or self.home

        def finish(status: TaskStatus, phase=None, error: str | None = None) -> TaskResult:
            result.status, result.phase, result.error = status, phase, error
            result.ended_at = utcnow()
            result.timings.total_s = round(time.monotonic() - started, 3)
            store.write(result)
            return result

        # -- setup
        try:
            config = config_with(self.config, arm.flags, seed)
            deadline = started + self._cap(config) * config.agent.best_of
            checkout = task_checkout(task, self.home)
            repo_id = repo_identity(checkout).id
            agent_task = task.to_task()
            backend = self.backends(task)
            handles = build_handles(config, self.home, agent_task, repo_id, backend,
                                    before_node=self._watchdog(deadline))  # fmt: skip
            ctx = TaskContext(task, checkout, repo_id, backend, handles, config, self.home)
            for hook in arm.hooks:
                hook.before(ctx)
        except BenchInterrupted:
            raise
        except Exception as exc:
            if getattr(exc, "stops_run", False):
                raise  # the whole cell cannot run (a missing dependency): not a task's failure
            result.timings.setup_s = round(time.monotonic() - started, 3)
            return finish(TaskStatus.HARNESS_ERROR, "setup", _describe(exc))
        result.timings.setup_s = round(time.monotonic() - started, 3)

        # -- the agent's run(s): best-of-k samples, the first one the agent verified wins
        from agent.explore import sample_config, verified

        samples: list[dict[str, Any]] = []
        for index in range(config.agent.best_of):
            sample_cfg = sample_config(config, index)
            outcome = self._sample(task, agent_task, checkout, handles, runs_home, sample_cfg,
                                   store, arm, ctx, result)  # fmt: skip
            if isinstance(outcome, SampleFailure):  # a harness failure: the task ends here
                return finish(outcome.status, outcome.phase, outcome.error)
            trajectory, grade = outcome
            samples.append({
                "run_id": trajectory.run_id, "seed": sample_cfg.model.seed,
                "temperature": sample_cfg.model.temperature,
                "agent_verified": verified(trajectory), "resolved": grade.resolved,
            })  # fmt: skip
            if verified(trajectory) or index == config.agent.best_of - 1:
                break
        if config.agent.best_of > 1:
            result.extras["samples"] = samples
            result.extras["pass@1"] = samples[0]["resolved"]
            result.extras[f"pass@{config.agent.best_of}"] = any(x["resolved"] for x in samples)
        return finish(TaskStatus.RESOLVED if grade.resolved else TaskStatus.UNRESOLVED)

    def _sample(self, task: BenchTask, agent_task, checkout: Path, handles: Handles,
                runs_home: Home, config: EngramConfig, store: ResultStore, arm: Arm,
                ctx: TaskContext, result: TaskResult):  # fmt: skip
        """One agent run of the task, graded: (trajectory, grade), or a SampleFailure. `result` is filled from this sample (the last one
        run is the one a best-of-k result describes)."""
        from agent.run import Runner, new_run_id

        run_id = new_run_id()
        store.note_run(task.instance_id, run_id)
        runner = Runner(runs_home, config)
        agent_started = time.monotonic()
        failure: tuple[TaskStatus, str] | None = None
        trajectory: Trajectory | None = None
        try:
            trajectory = runner.start(agent_task, checkout, handles, run_id=run_id)
        except HarnessTimeout as exc:
            failure = (TaskStatus.HARNESS_TIMEOUT, str(exc))
        except KeyboardInterrupt:
            self.stop.set()
            raise BenchInterrupted() from None
        except BenchInterrupted:
            raise
        except Exception as exc:
            failure = (TaskStatus.HARNESS_ERROR, _describe(exc))
        result.timings.agent_s += round(time.monotonic() - agent_started, 3)
        if trajectory is None:
            trajectory = _partial(runner, run_id)
        if trajectory is not None:
            # Costs add up over samples; the rest describes the last sample run.
            t = result.timings
            before = (t.model_s, t.tools_s, t.monitor_s, t.framework_s, t.verify_s,
                      result.prompt_tokens, result.completion_tokens)  # fmt: skip
            _fill_from_trajectory(result, trajectory)
        if trajectory is not None and any(before):
            t.model_s, t.tools_s, t.monitor_s, t.framework_s, t.verify_s = (
                round(a + b, 3) for a, b in zip(before[:5], (t.model_s, t.tools_s, t.monitor_s,
                                                             t.framework_s, t.verify_s), strict=True)
            )  # fmt: skip
            result.prompt_tokens += before[5]
            result.completion_tokens += before[6]
            sums = t.model_s + t.tools_s + t.monitor_s + t.framework_s
            t.run_overhead_s = round(max(0.0, t.agent_s - sums - t.verify_s), 3)
        if trajectory is not None:
            result.agent_verified = bool(trajectory.verification and trajectory.verification.passed)
        if (
            failure is None
            and trajectory is not None
            and trajectory.exit_status in (ExitStatus.ERROR, ExitStatus.INTERRUPTED, None)
        ):
            failure = (TaskStatus.HARNESS_ERROR, f"the run ended with {trajectory.exit_status}: "
                       f"{trajectory.exit_reason}")  # fmt: skip
        if failure is not None:
            shutil.rmtree(runs_home.worktrees / run_id, ignore_errors=True)
            return SampleFailure(failure[0], "agent", failure[1])
        assert trajectory is not None

        # -- grading, in a fresh sandbox
        grading_started = time.monotonic()
        try:
            grade = self.grader.grade(task, trajectory.final_diff)
        except Exception as exc:
            grade = None
            error = _describe(exc)
        result.timings.grading_s += round(time.monotonic() - grading_started, 3)
        if grade is None or grade.error:
            return SampleFailure(TaskStatus.HARNESS_ERROR, "grading",
                                 error if grade is None else f"grader: {grade.error}")  # fmt: skip
        result.grade = grade.model_dump(mode="json")

        # -- bookkeeping: the grade is the run's verification; hooks see the graded run
        try:
            self._record_verification(runs_home, trajectory, grade, task, arm)
            for hook in arm.hooks:
                hook.after(ctx, trajectory, grade)
            result.extras.update(ctx.extras)
        except Exception as exc:
            return SampleFailure(TaskStatus.HARNESS_ERROR, "bookkeeping", _describe(exc))
        return trajectory, grade

    def _cap(self, config: EngramConfig) -> float:
        if self.options.task_timeout_s is not None:
            return self.options.task_timeout_s
        return 2 * config.agent.max_wall_s + 300

    def _watchdog(self, deadline: float) -> Callable[[str], None]:
        def check(node: str) -> None:
            if self.stop.is_set():
                raise BenchInterrupted()
            if time.monotonic() > deadline:
                raise HarnessTimeout(f"the task passed the harness's time cap before {node}")

        return check

    @staticmethod
    def _record_verification(runs_home: Home, trajectory: Trajectory, grade: Grade,
                             task: BenchTask, arm: Arm) -> None:  # fmt: skip
        """The grader's verdict replaces the agent's own test run in the stored trajectory.

        Only the learn track's stream makes runs eligible for learning, and only runs of
        training tasks: a benchmark must never teach the model its own test set.
        """
        from memory.trajectories import TrajectoryStore

        trajectory.verification = grade.to_verification()
        trajectory.verified_by = "benchmark" if grade.resolved else None
        trajectory.eligible_for_learning = bool(
            grade.resolved and arm.learn and task.split == "train"
        )
        TrajectoryStore(runs_home.runs).save(trajectory)


@dataclass
class SampleFailure:
    """A sample the harness could not complete: the task's result says so, not the model."""

    status: TaskStatus
    phase: str
    error: str


def _partial(runner, run_id: str) -> Trajectory | None:
    try:
        return runner.store.load(run_id)
    except Exception:
        return None


def _describe(exc: BaseException) -> str:
    """The error and where it came from (the last frames), for the result file."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    text = f"{type(exc).__name__}: {exc}"
    return (text[:1500] + (f" [at {where}]" if where else "")).strip()
