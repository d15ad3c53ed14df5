"""`engram bench run|report|compare`: the agent over task sets, its tracks, their reports,
and runs side by side."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer

TRACK_HELP = "resolve | probe | learn | forget | knowledge (repeat or comma-separate)"


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("report")(report)
    app.command("compare")(compare)


def _split_list(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _line(result, done: int, total: int) -> str:
    t = result.timings
    status = {"resolved": "[green]resolved[/]", "unresolved": "[red]unresolved[/]"}.get(
        result.status.value, f"[yellow]{result.status.value}[/]"
    )
    detail = (f"{result.exit_status or '-'}, {result.steps} steps, model {t.model_s:.0f}s "
              f"tools {t.tools_s:.0f}s grade {t.grading_s:.0f}s, total {t.total_s:.0f}s")  # fmt: skip
    if result.error:
        detail = f"{result.phase}: {result.error[:200]}"
    return f"[{done}/{total}] {status}  {result.instance_id} [dim]{result.cell} · {detail}[/]"


def run(
    tasks: Path = typer.Option(None, "--tasks", help="task file (JSON or JSONL)"),
    split: str = typer.Option(None, "--split", help="train | test | all (default all)"),
    limit: int = typer.Option(None, "--limit", help="a seeded sample of N tasks"),
    ids: str = typer.Option(None, "--ids", help="comma-separated instance ids"),
    track: list[str] = typer.Option(None, "--track", help=TRACK_HELP),
    workers: int = typer.Option(None, "--workers", help="tasks in parallel (default 1)"),
    seed: int = typer.Option(0, "--seed", help="same seed, same tasks and sampling"),
    out: Path = typer.Option(None, "--out", help="run directory (default ENGRAM_HOME/bench/NAME)"),
    name: str = typer.Option(None, "--name", help="run name (default run-<time>-<hex>)"),
    resume: str = typer.Option(None, "--resume", help="resume a run (its name or directory)"),
    model: str = typer.Option(None, "--model", help="registry name, folder, .gguf or hub id"),
    backend: str = typer.Option(None, "--backend", help="auto | hf | llamacpp | openai"),
    policy: str = typer.Option(None, "--policy", help="auto | freeform | small"),
    best_of: int = typer.Option(None, "--best-of", help="samples per task (agent.best_of)"),
    max_steps: int = typer.Option(None, "--max-steps"),
    max_resamples: int = typer.Option(None, "--max-resamples", help="agent.max_resamples"),
    max_new_tokens: int = typer.Option(None, "--max-new-tokens"),
    temperature: float = typer.Option(None, "--temperature"),
    threads: int = typer.Option(None, "--threads", help="CPU threads of an in-process model"),
    sandbox: str = typer.Option(None, "--sandbox", help="auto | docker | local"),
    probes: bool = typer.Option(None, "--probes/--no-probes", help="probes.enabled"),
    oracle: bool = typer.Option(False, "--oracle", help="replay the gold patches (harness check)"),
    task_timeout: float = typer.Option(None, "--task-timeout", help="harness cap per task, s"),
    grade_timeout: float = typer.Option(600.0, "--grade-timeout", help="test time limit, s"),
    collect_probes: bool = typer.Option(
        False,
        "--collect-probes",
        help="resolve, and learn's agent stream: record probe features for `engram probes train`",
    ),
    learn_every: int = typer.Option(5, "--learn-every", help="learn: consolidate every k verified"),
    learn_tasks: int = typer.Option(None, "--learn-tasks", help="learn: training tasks streamed"),
    stream_best_of: int = typer.Option(
        None,
        "--stream-best-of",
        help="learn: samples per training task in the agent stream (ReST: every verified "
        "sample is a self-edit source); held-out arms keep --best-of",
    ),
    learn_source: list[str] = typer.Option(
        None, "--learn-source", help="learn: agent | bootstrap (each its own curve)"
    ),
    arms: str = typer.Option(
        "none,notes,adapter,both",
        "--arms",
        help="learn: memory arms evaluated per round (also: candidate, the newest adapter ungated)",
    ),
    humaneval_n: int = typer.Option(8, "--humaneval-n", help="forget: HumanEval problems"),
    adapter: Path = typer.Option(
        None, "--adapter", help="resolve: this adapter version (folder) for every task, any repo"
    ),
    notes_from: Path = typer.Option(
        None,
        "--notes-from",
        help="resolve: the repo notes kept in this ENGRAM_HOME, in every prompt",
    ),
    no_report: bool = typer.Option(False, "--no-report", help="do not render the report"),
) -> None:
    """Run the agent on a task set: each task in a fresh sandbox, its diff graded in another.

    Results are stored per task as they finish; `--resume RUN` continues a stopped run
    (finished tasks are kept, the ones in flight are redone). The report (JSON, Markdown,
    PNG) is rendered at the end, and again any time with `engram bench report RUN`."""
    from agent.cli.common import console, fail, home, load
    from bench.results import BenchRunError
    from bench.runner import BenchInterrupted, RunnerOptions
    from bench.session import resume_session, run_dir_for, start_session

    output = console()
    h = home()
    h.ensure(h.bench)
    runner_options = RunnerOptions(task_timeout_s=task_timeout, grade_timeout_s=grade_timeout)
    if resume:
        if tasks is not None or track or out is not None or name is not None:
            fail("a resumed run keeps its own tasks, tracks and settings: give only "
                 "--resume RUN (and --workers N)")  # fmt: skip
        session = resume_session(h, run_dir_for(h, resume), workers, runner_options)
        output.print(f"resuming [bold]{session.manifest.name}[/] ({session.run_dir})")
    else:
        if tasks is None:
            fail("give the task file: `engram bench run --tasks FILE` (or --resume RUN)")
        chosen_tracks = _split_list(track) or ["resolve"]
        flags = {"model.name": model, "model.backend": backend, "agent.policy": policy,
                 "agent.best_of": best_of, "agent.max_steps": max_steps,
                 "agent.max_resamples": max_resamples,
                 "model.max_new_tokens": max_new_tokens, "model.temperature": temperature,
                 "model.threads": threads, "sandbox.kind": sandbox, "probes.enabled": probes,
                 # Notes reach a bench prompt only through an arm (notes, both,
                 # --notes-from), never from the user's own config.
                 "memory.notes_in_context": False}  # fmt: skip
        config = load(**{k: v for k, v in flags.items() if v is not None}).config
        options = {"collect_probes": collect_probes, "learn_every": learn_every,
                   "learn_tasks": learn_tasks, "learn_sources": _split_list(learn_source) or ["agent"],
                   "arms": _split_list([arms]), "humaneval_n": humaneval_n}  # fmt: skip
        if stream_best_of is not None:
            if stream_best_of < 1:
                fail("--stream-best-of is a number of samples: 1 or more")
            options["stream_best_of"] = stream_best_of
        if adapter is not None:
            if not (adapter / "manifest.json").is_file():
                fail(f"--adapter {adapter}: not an adapter version folder (no manifest.json); "
                     "`engram memory list` shows the versions, under ENGRAM_HOME/adapters/<repo>/")  # fmt: skip
            options["adapter"] = str(adapter.resolve())
        if notes_from is not None:
            if not notes_from.is_dir():
                fail(f"--notes-from {notes_from}: no such folder (give an ENGRAM_HOME)")
            options["notes_from"] = str(notes_from.resolve())
        try:
            session = start_session(
                h, tasks, config, tracks=chosen_tracks, split=split, limit=limit,
                ids=_split_list([ids]) if ids else None, seed=seed, workers=workers or 1,
                oracle=oracle, options=options, runner_options=runner_options, out=out, name=name,
            )  # fmt: skip
        except BenchRunError as exc:
            fail(str(exc))
        output.print(f"bench run [bold]{session.manifest.name}[/]: {len(session.tasks)} tasks, "
                     f"tracks {', '.join(session.manifest.tracks)}, {session.options.workers} "
                     f"worker(s) → {session.run_dir}")  # fmt: skip
    session.note = lambda text: output.print(f"[dim]{text}[/]")
    session.report_task = lambda result, done, total: output.print(_line(result, done, total))
    # SIGTERM (a CI job cancelled, `kill`) stops like Ctrl-C: the runs in flight end at
    # their next node and their sandboxes are removed, instead of containers left running.
    previous = _term_as_interrupt()
    try:
        session.run_tracks()
    except (KeyboardInterrupt, BenchInterrupted):
        output.print(f"[yellow]stopped[/]; continue with `engram bench run --resume "
                     f"{session.run_dir}`")  # fmt: skip
        raise SystemExit(130) from None
    finally:
        session.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if not no_report:
        _render(session.run_dir, None, output)


def _term_as_interrupt():
    if threading.current_thread() is not threading.main_thread():
        return None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


def _render(run_dir: Path, out: Path | None, output) -> None:
    from bench.report.render import render_report

    files = render_report(run_dir, out)
    output.print(f"report: [bold]{files.markdown}[/] ({files.json.name}, "
                 f"{len(files.plots)} plot(s) in {files.directory})")  # fmt: skip


def report(
    run_ref: str = typer.Argument(..., help="the run's name or directory"),
    out: Path = typer.Option(None, "--out", help="report directory (default RUN/report)"),
    show: bool = typer.Option(True, "--show/--no-show", help="print the Markdown"),
) -> None:
    """Render a run's report (JSON, Markdown, PNG plots) from its stored results."""
    from agent.cli.common import console, home
    from bench.report.render import render_report
    from bench.session import run_dir_for

    output = console()
    files = render_report(run_dir_for(home(), run_ref), out)
    if show:
        output.print(files.markdown.read_text(), markup=False, highlight=False)
    output.print(f"report: [bold]{files.markdown}[/] ({len(files.plots)} plot(s))")


def compare(
    runs: list[str] = typer.Argument(
        ...,
        help="runs (names or directories) or run records (FILE.json); RUN#CELL for a "
        "cell other than resolve, e.g. NAME#learn/bootstrap/r01/adapter",
    ),
    as_json: bool = typer.Option(False, "--json", help="print the comparison as JSON"),
    record: Path = typer.Option(
        None, "--record", help="also keep each run's row as a record in DIR (e.g. docs/records)"
    ),
) -> None:
    """Runs side by side: pass@1 with Wilson intervals, pass@k, failure causes, time per
    task, and each run against the first on the tasks both ran (exact McNemar).

    A record (written with --record) stands in for a run whose directory is gone, so a new
    run can be paired with one made on another machine."""
    from agent.cli.common import console, home
    from bench.compare import compare as compare_runs
    from bench.compare import markdown
    from bench.records import is_record, load_record, save_record
    from bench.session import run_dir_for

    output = console()
    where = home()
    chosen: list = []
    for ref in runs:
        if is_record(ref):
            chosen.append(load_record(Path(ref).expanduser()).row)
            continue
        name, _, cell = ref.partition("#")
        chosen.append((run_dir_for(where, name), cell or "resolve"))
    result = compare_runs(chosen)
    if record is not None:
        for entry, row in zip(chosen, result.rows, strict=True):
            if isinstance(entry, tuple):  # a record already is one
                path = save_record(row, entry[0], record)
                typer.echo(f"record: {path}", err=True)  # stdout may be --json
    if as_json:
        output.print_json(result.model_dump_json())
        return
    output.print("\n".join(markdown(result)), markup=False, highlight=False, soft_wrap=True)
