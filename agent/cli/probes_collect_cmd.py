"""`engram probes collect`: run the agent on tasks and store each run's probe features and
step labels in the model's feature dataset (what `engram probes train` learns from).

It is a bench run of the `resolve` track with feature collection on (`bench.collect`):
each task in a fresh sandbox, its diff graded by the task's tests (the grade decides
whether the run is verified), every assessed step's pooled hidden states + baselines
recorded and labelled from the task's repository. Runs are stored like any bench run
(`ENGRAM_HOME/bench/<name>/`, resumable with `--resume`), and `collect.json` there says
what was collected and at what rate, to size a larger collection.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("collect")(collect)


def collect(
    tasks: Path = typer.Option(None, "--tasks", help="task file (JSON or JSONL)"),
    split: str = typer.Option("train", "--split", help="train | test | all"),
    limit: int = typer.Option(None, "--limit", help="a seeded sample of N tasks"),
    ids: str = typer.Option(None, "--ids", help="comma-separated instance ids"),
    workers: int = typer.Option(None, "--workers", help="tasks in parallel (default 1)"),
    seed: int = typer.Option(0, "--seed", help="same seed, same tasks and sampling"),
    name: str = typer.Option(None, "--name", help="run name (default probes-<time>-<hex>)"),
    resume: str = typer.Option(None, "--resume", help="continue a collection (name or directory)"),
    model: str = typer.Option(None, "--model", help="registry name, folder, .gguf or hub id"),
    backend: str = typer.Option(None, "--backend", help="auto | hf | llamacpp"),
    threads: int = typer.Option(None, "--threads", help="CPU threads of an in-process model"),
    policy: str = typer.Option(None, "--policy", help="auto | freeform | small"),
    max_steps: int = typer.Option(None, "--max-steps"),
    temperature: float = typer.Option(None, "--temperature"),
    task_timeout: float = typer.Option(None, "--task-timeout", help="harness cap per task, s"),
) -> None:
    """Run the agent on tasks and store each run's probe features and step labels.

    Tasks come from a task file (its train split by default); each run's diff is graded
    by the task's tests. Labels come from the repository: invented names, tool failures
    on them, verified runs (docs/probes.md)."""
    import signal

    from agent.cli.bench_run_cmd import _term_as_interrupt
    from agent.cli.common import console, fail, home, load
    from bench.collect import probe_dataset_dir
    from bench.results import BenchRunError
    from bench.runner import BenchInterrupted, RunnerOptions
    from bench.session import new_run_name, resume_session, run_dir_for, start_session

    out = console()
    h = home()
    h.ensure(h.bench)
    runner_options = RunnerOptions(task_timeout_s=task_timeout)
    if resume:
        session = resume_session(h, run_dir_for(h, resume), workers, runner_options)
        if not session.manifest.options.get("collect_probes"):
            fail(f"{session.run_dir} is not a probe collection; resume it with `engram bench run`")
    else:
        if tasks is None:
            fail("give the task file: `engram probes collect --tasks FILE` (or --resume RUN)")
        flags = {"model.name": model, "model.backend": backend, "model.threads": threads,
                 "agent.policy": policy, "agent.max_steps": max_steps,
                 "model.temperature": temperature}  # fmt: skip
        config = load(**{k: v for k, v in flags.items() if v is not None}).config
        try:
            session = start_session(
                h, tasks, config, tracks=["resolve"], split=None if split == "all" else split,
                limit=limit, ids=[i.strip() for i in ids.split(",")] if ids else None,
                seed=seed, workers=workers or 1, options={"collect_probes": True},
                runner_options=runner_options, name=name or f"probes-{new_run_name()}",
            )  # fmt: skip
        except BenchRunError as exc:
            fail(str(exc))
    out.print(f"collecting probe features: {len(session.tasks)} tasks → {session.run_dir}")
    results = []

    def report(result, done: int, total: int) -> None:
        results.append(result)
        x = result.extras
        out.print(f"[{done}/{total}] {result.status.value} {result.instance_id}: "
                  f"{result.steps} steps, {x.get('probe_rows', 0)} with features "
                  f"({x.get('probe_hallucinated', 0)} hallucinated, {x.get('probe_clean', 0)} "
                  f"clean), {result.timings.total_s:.0f} s")  # fmt: skip

    session.note = lambda text: out.print(f"[dim]{text}[/]")
    session.report_task = report
    started = time.monotonic()
    # SIGTERM stops like Ctrl-C (as `engram bench run`): runs in flight end at their next
    # node and their sandboxes are removed.
    previous = _term_as_interrupt()
    stopped = False
    try:
        session.run_tracks()
    except (KeyboardInterrupt, BenchInterrupted):
        stopped = True
    finally:
        model_id = session.manifest.model_id
        session.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    # Written when stopped too: what this invocation gathered until then.
    summary = collection_summary(results, time.monotonic() - started)
    summary["stopped"] = stopped
    if model_id:
        from probes.dataset import Dataset

        summary["dataset"] = Dataset.load(probe_dataset_dir(h)(model_id)).counts()
    (session.run_dir / "collect.json").write_text(json.dumps(summary, indent=2) + "\n")
    _print_summary(out, summary)
    if stopped:
        out.print(f"[yellow]stopped[/]; continue with `engram probes collect --resume "
                  f"{session.run_dir}`")  # fmt: skip
        raise SystemExit(130)


def _print_summary(out, s: dict) -> None:
    out.print(f"{s['tasks']} runs ({s['verified']} verified) in {s['wall_s'] / 60:.1f} min: "
              f"{s['rows']} steps with features — {s['hallucinated']} hallucinated, "
              f"{s['clean']} clean, {s['unknown']} unknown; {s['rows_per_hour']:.0f} steps/hour, "
              f"{s['labelled_per_hour']:.0f} labelled steps/hour")  # fmt: skip
    if "dataset" in s:
        d = s["dataset"]
        out.print(f"dataset now: {d['runs']} runs, {d['steps']} steps ({d['hallucinated']} "
                  f"hallucinated, {d['clean']} clean, {d['unknown']} unknown)")  # fmt: skip


def collection_summary(results: list, wall_s: float) -> dict:
    """What a collection gathered (bench TaskResults with `bench.collect` extras)."""
    rows = sum(r.extras.get("probe_rows", 0) for r in results)
    hallucinated = sum(r.extras.get("probe_hallucinated", 0) for r in results)
    clean = sum(r.extras.get("probe_clean", 0) for r in results)
    hours = wall_s / 3600 if wall_s > 0 else float("nan")
    return {
        "tasks": len(results),
        "verified": sum(1 for r in results if r.resolved),
        "harness_failures": sum(1 for r in results if not r.status.graded),
        "steps": sum(r.steps for r in results),
        "rows": rows,
        "hallucinated": hallucinated,
        "clean": clean,
        "unknown": rows - hallucinated - clean,
        "missing_features": sum(r.extras.get("probe_missing", 0) for r in results),
        "wall_s": round(wall_s, 1),
        "rows_per_hour": rows / hours,
        "labelled_per_hour": (hallucinated + clean) / hours,
        "model_s": round(sum(r.timings.model_s for r in results), 1),
        "monitor_s": round(sum(r.timings.monitor_s for r in results), 3),
    }
