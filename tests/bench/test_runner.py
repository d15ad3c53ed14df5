"""BenchRunner on real tasks: the real graph, tools and grader, the local sandbox, scripted
models. What a task's result records, and which failures are the model's and which the
harness's."""

from __future__ import annotations

import json
import threading

import pytest

from agent.backends.base import BackendError
from agent.backends.fake import FakeBackend
from agent.config import load_config
from agent.home import Home
from bench.grading import Grader
from bench.oracle import oracle_backend
from bench.results import ResultStore, TaskStatus
from bench.runner import Arm, BenchRunner, RunnerOptions, task_seed
from bench.summary import summarise_cell
from memory.trajectories import TrajectoryStore
from tests.bench.taskset import make_tasks

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sandboxes.local.LocalSandboxWarning"),
]
SUBMIT = "Done.\n```submit\n```"


@pytest.fixture
def env(stats_repo):
    home = Home.resolve()
    home.ensure()
    config = load_config(flags={"sandbox.kind": "local", "agent.max_steps": 4,
                                "agent.repo_map_tokens": 0}).config  # fmt: skip
    return home, config, make_tasks(stats_repo, home)


def run(env, tasks, backends, cell="cell", arm=None, grader=None, **options):
    home, config, _ = env
    store = ResultStore(home.bench / "r" / cell, cell)
    runner = BenchRunner(home, config, backends, RunnerOptions(**options), grader=grader)
    return runner.run(tasks, store, arm or Arm(cell)), store


def by_id(tasks, name):
    return next(t for t in tasks if t.instance_id == f"stats__bug-{name}")


def test_a_solved_task_is_graded_resolved_and_its_result_is_complete(env):
    home, _, tasks = env
    task = by_id(tasks, "mean")
    results, store = run(env, [task], oracle_backend)
    result = results[task.instance_id]
    assert result.status == TaskStatus.RESOLVED and result.exit_status == "submitted"
    assert result.grade["patch_status"] == "applied" and result.patch == task.patch
    assert result.agent_verified is True
    t = result.timings
    assert t.agent_s > 0 and t.grading_s > 0 and t.verify_s > 0 and t.setup_s > 0
    assert t.total_s >= t.setup_s + t.agent_s + t.grading_s - 0.01
    assert result.model_steps == 2 and result.format_errors == 0
    assert result.seed == task_seed(0, task.instance_id)
    stored = json.loads(store.path(task.instance_id).read_text())
    assert stored["status"] == "resolved" and not list(store.inflight_dir.glob("*"))
    trajectory = TrajectoryStore(home.runs).load(result.run_id)
    assert trajectory.verified_by == "benchmark" and trajectory.verification.passed
    assert trajectory.seed == result.seed
    # Benchmark runs never become learning material outside the learn track's stream.
    assert trajectory.eligible_for_learning is False


def test_submitting_without_a_change_is_the_models_failure(env):
    _, _, tasks = env
    task = by_id(tasks, "mean")
    # A second submit on the unchanged tree is resampled, not run: the script repeats it
    # until the resample budget ends the run.
    results, _ = run(env, [task], lambda t: FakeBackend([SUBMIT] * 12))
    result = results[task.instance_id]
    assert result.status == TaskStatus.UNRESOLVED and result.grade["patch_status"] == "empty"
    assert result.agent_verified is False
    summary = summarise_cell("cell", results.values())
    assert (summary.graded, summary.resolved.k, summary.harness_errors) == (1, 0, 0)


def test_malformed_replies_are_counted_and_stay_the_models(env):
    _, _, tasks = env
    task = by_id(tasks, "mean")
    results, _ = run(env, [task], lambda t: FakeBackend(["I would look at the code."] * 6))
    result = results[task.instance_id]
    assert result.status == TaskStatus.UNRESOLVED
    assert result.format_errors == result.model_steps > 0
    summary = summarise_cell("cell", results.values())
    assert summary.format_error_rate.rate == 1.0


def test_a_backend_failure_is_a_harness_error_not_a_model_failure(env):
    _, _, tasks = env

    def broken(messages, options):
        raise BackendError("the model server went away")

    task = by_id(tasks, "mean")
    results, _ = run(env, [task], lambda t: FakeBackend([broken]))
    result = results[task.instance_id]
    assert result.status == TaskStatus.HARNESS_ERROR and result.phase == "agent"
    assert "model server went away" in result.error
    summary = summarise_cell("cell", results.values())
    assert summary.graded == 0 and summary.resolved.n == 0 and summary.harness_errors == 1


def test_a_task_that_cannot_be_checked_out_fails_in_setup(env):
    _, _, tasks = env
    broken = by_id(tasks, "mean").model_copy(update={"base_commit": "0" * 40})
    results, _ = run(env, [broken], oracle_backend)
    result = results[broken.instance_id]
    assert result.status == TaskStatus.HARNESS_ERROR and result.phase == "setup"
    assert result.run_id is None


def test_a_grader_failure_is_a_harness_error(env):
    home, config, tasks = env

    def no_repo(task):
        raise RuntimeError("bench store unavailable")

    grader = Grader(settings=config.sandbox, work_dir=home.bench / "g", resolve_repo=no_repo)
    task = by_id(tasks, "mean")
    results, _ = run(env, [task], oracle_backend, grader=grader)
    result = results[task.instance_id]
    assert result.status == TaskStatus.HARNESS_ERROR and result.phase == "grading"
    assert "bench store unavailable" in result.error and result.exit_status == "submitted"


def test_the_harness_time_cap_is_a_harness_timeout(env):
    _, _, tasks = env
    task = by_id(tasks, "mean")
    results, _ = run(env, [task], oracle_backend, task_timeout_s=0.0)
    result = results[task.instance_id]
    assert result.status == TaskStatus.HARNESS_TIMEOUT and result.phase == "agent"
    assert "time cap" in result.error


class OtherRevision(Grader):
    """A real grader handed the agent's diff as it would look had it been made against
    another revision of the file (its removed line differs)."""

    def grade(self, task, patch):
        return super().grade(task, patch.replace("(len(values) - 1)", "(len(values) - 7)"))


def test_a_patch_that_does_not_apply_is_unresolved_not_a_harness_error(env):
    home, config, tasks = env
    grader = OtherRevision(settings=config.sandbox, work_dir=home.bench / "g")
    task = by_id(tasks, "mean")
    results, _ = run(env, [task], oracle_backend, grader=grader)
    result = results[task.instance_id]
    assert result.status == TaskStatus.UNRESOLVED
    assert result.grade["patch_status"] == "does_not_apply" and result.error is None
    assert summarise_cell("cell", results.values()).patch_statuses == {"does_not_apply": 1}


def test_a_resumed_cell_keeps_results_and_redoes_harness_failures(env):
    _, _, tasks = env
    mean, window = by_id(tasks, "mean"), by_id(tasks, "window")

    def flaky(task):
        if task is window:
            return FakeBackend([lambda m, o: (_ for _ in ()).throw(BackendError("blip"))])
        return oracle_backend(task)

    first, store = run(env, [mean, window], flaky)
    assert first[window.instance_id].status == TaskStatus.HARNESS_ERROR
    kept = store.path(mean.instance_id).read_text()
    second, _ = run(env, [mean, window], oracle_backend)
    assert store.path(mean.instance_id).read_text() == kept  # not run again
    assert second[window.instance_id].status == TaskStatus.RESOLVED
    assert second[window.instance_id].attempt == 2


def test_a_task_left_in_flight_is_redone_and_its_worktree_removed(env):
    home, _, tasks = env
    task = by_id(tasks, "mean")
    store = ResultStore(home.bench / "r" / "cell", "cell")
    store.mark_inflight(task.instance_id, 1)
    store.note_run(task.instance_id, "dead-run")
    stale = home.worktrees / "dead-run"
    stale.mkdir(parents=True)
    notes = []
    runner = BenchRunner(home, env[1], oracle_backend, note=notes.append)
    results = runner.run([task], store, Arm("cell"))
    assert results[task.instance_id].status == TaskStatus.RESOLVED
    assert not stale.exists() and any("in flight" in n for n in notes)


def test_workers_share_the_work_and_seeds_do_not_depend_on_order(env):
    _, _, tasks = env
    chosen = [by_id(tasks, n) for n in ("mean", "running", "window")]
    threads: set[str] = set()

    def backend(task):
        threads.add(threading.current_thread().name)
        return oracle_backend(task)

    results, _ = run(env, chosen, backend, workers=2)
    assert {r.status for r in results.values()} == {TaskStatus.RESOLVED}
    assert len(threads) == 2
    assert {t.instance_id: results[t.instance_id].seed for t in chosen} == {
        t.instance_id: task_seed(0, t.instance_id) for t in chosen
    }
    assert task_seed(1, chosen[0].instance_id) != task_seed(0, chosen[0].instance_id)


def sample_script(task, solving_from: int):
    """A scripted model for best-of-k: samples before `solving_from` submit without a
    change (whatever they are told), later ones replay the gold fix. (text, runs)."""
    from bench.oracle import oracle_replies

    gold = oracle_replies(task)
    runs: list[list[str]] = []

    def text(messages) -> str:
        if not any(m.role == "assistant" for m in messages):
            runs.append([])  # a run's first call: a new sample
        runs[-1].append("x")
        if len(runs) <= solving_from:
            return SUBMIT
        return gold[min(len(runs[-1]), len(gold)) - 1]

    return text, runs


def test_best_of_k_stops_at_the_first_verified_sample_and_records_each(env):
    home, config, tasks = env
    task = by_id(tasks, "mean")
    text, _ = sample_script(task, solving_from=1)

    def reply(messages, options):
        return text(messages)

    def backends(_task):
        return FakeBackend([reply] * 40)

    store = ResultStore(home.bench / "r" / "best", "best")
    cfg = config.model_copy(update={"agent": config.agent.model_copy(update={"best_of": 3})})
    runner = BenchRunner(home, cfg, backends, RunnerOptions())
    result = runner.run([task], store, Arm("best"))[task.instance_id]
    samples = result.extras["samples"]
    # sample 0 failed, sample 1 (hot, another seed) verified: sampling stopped there
    assert [s["agent_verified"] for s in samples] == [False, True]
    assert [s["resolved"] for s in samples] == [False, True]
    assert samples[0]["temperature"] == 0 and samples[1]["temperature"] == 0.7
    assert samples[1]["seed"] == samples[0]["seed"] + 1
    assert result.extras["pass@1"] is False and result.extras["pass@3"] is True
    assert result.status == TaskStatus.RESOLVED and result.run_id == samples[1]["run_id"]
    # both runs are stored; each verified sample is a learning source in a learn arm
    runs = TrajectoryStore(home.runs)
    assert {runs.load(s["run_id"]).run_id for s in samples} == {s["run_id"] for s in samples}


def test_best_of_k_collects_every_samples_features_and_adds_their_counts(env, tmp_path):
    """Each sample is its own run: its own shard, its own features (never a step of an
    earlier sample that had the same index and reply), and the task's counts are sums."""
    import numpy as np

    from agent.backends.base import BackendCapabilities, Generation
    from bench.collect import FeatureCollector, fixed_dir
    from probes.dataset import Dataset
    from probes.labels import CLEAN

    home, config, tasks = env
    task = by_id(tasks, "mean")
    text, runs = sample_script(task, solving_from=2)

    def reply(messages, options):
        said = text(messages)
        states = np.full((4, 8), float(len(runs)), dtype=np.float32)  # which sample made it
        return Generation(text=said, hidden=states, hidden_layer=2, logprobs=[-0.1] * 4,
                          entropies=[0.3] * 4)  # fmt: skip

    caps = BackendCapabilities(hidden_states=True, logprobs=True)
    cfg = config.model_copy(update={"agent": config.agent.model_copy(update={"best_of": 3})})
    out = tmp_path / "features"
    runner = BenchRunner(home, cfg, lambda _t: FakeBackend([reply] * 40, capabilities=caps),
                         RunnerOptions())  # fmt: skip
    arm = Arm("best", hooks=[FeatureCollector(fixed_dir(out), layer=2)])
    result = runner.run([task], ResultStore(home.bench / "r" / "f", "f"), arm)[task.instance_id]

    samples = result.extras["samples"]
    assert [s["resolved"] for s in samples] == [False, False, True]
    shards = result.extras["probe_shards"]
    assert len(shards) == 3 and len(set(shards)) == 3
    data = Dataset.load(out)
    by_run = {s["run_id"]: i + 1 for i, s in enumerate(samples)}
    assert {r.run_id for r in data.rows} == set(by_run)
    # every row's features come from its own sample's generation
    for shard in data.shards:
        assert np.allclose(shard.pooled["mean"], by_run[shard.run_id])
    assert result.extras["probe_rows"] == len(data.rows)
    assert result.extras["probe_clean"] == sum(r.label == CLEAN for r in data.rows) > 0
