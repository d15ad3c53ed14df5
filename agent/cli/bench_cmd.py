"""`engram bench generate|grade|prepare|split|bootstrap|repo fetch` — the parts of the benchmark that
do not need the agent: tasks, bug injection, grading."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Benchmark tasks: generate them by bug injection, grade patches, manage task sets.",
    no_args_is_help=True,
)
repo_app = typer.Typer(help="Bench repositories (the sources tasks are made from).",
                       no_args_is_help=True)  # fmt: skip
app.add_typer(repo_app, name="repo")


def _settings(sandbox: str):
    from agent.cli.common import load

    flags = {"sandbox__kind": sandbox} if sandbox != "config" else {}
    return load(**flags).config.sandbox


def _print_stats(out, stats) -> None:
    from rich.table import Table

    table = Table("kind", "sites", "tried", "kept", "kept %", "in tasks", "discarded (why)")
    for kind, row in stats.kinds.items():
        why = ", ".join(f"{k} {v}" for k, v in sorted(row.statuses.items())
                        if k not in ("kept", "invalid"))  # fmt: skip
        rate = f"{100 * row.kept / row.tried:.0f}" if row.tried else "-"
        table.add_row(kind, str(row.sites), str(row.tried), str(row.kept), rate,
                      str(row.in_tasks), why)  # fmt: skip
    out.print(table)
    out.print(
        f"{stats.tasks} tasks (by sites: {stats.by_difficulty}); combinations "
        f"{stats.combinations_kept}/{stats.combinations_tried} kept; suite of "
        f"{stats.tests_in_suite} tests, baseline {stats.baseline_s:.1f}s; validation "
        f"{stats.validation_s_total:.0f}s in all, {stats.validation_s_per_task:.1f}s per task, "
        f"median {stats.candidate_s_median:.1f}s per candidate; "
        f"{stats.validated_this_run} validated in this run, wall {stats.wall_s:.0f}s "
        f"({stats.sandbox} sandbox)"
    )


@app.command()
def generate(
    repo: str = typer.Option(..., "--repo", help="a git repo path, example:NAME or pypi:NAME==VER"),
    n: int = typer.Option(..., "-n", help="number of tasks to make"),
    seed: int = typer.Option(0, "--seed", help="same seed, same tasks"),
    out: Path | None = typer.Option(None, "--out", help="task file (default ./<name>-tasks.jsonl)"),
    kinds: str | None = typer.Option(None, "--kinds", help="comma-separated mutation kinds"),
    sites: str = typer.Option("1", "--sites", help="sites per task: N or a range such as 1..3"),
    workers: int = typer.Option(1, "--workers", help="sandboxes validating in parallel"),
    timeout: float | None = typer.Option(None, "--timeout", help="suite time limit per candidate"),
    max_candidates: int | None = typer.Option(
        None, "--max-candidates", help="validation budget (default 40 per task)"
    ),
    heldout_kinds: str | None = typer.Option(
        None, "--heldout-kinds", help="kinds kept out of the train split"
    ),
    sandbox: str = typer.Option("config", "--sandbox", help="docker | local | auto | config"),
) -> None:
    """Inject bugs into a repository's own code, keep those its tests catch, write tasks."""
    from agent.cli.common import console, fail, home
    from bench.assembly import parse_sites
    from bench.generator import GenerateOptions, Generator
    from bench.mutation import KINDS
    from bench.repos import BenchRepos
    from bench.splits import DEFAULT_HELDOUT
    from bench.tasks import write_tasks

    output = console()
    chosen = [k.strip() for k in kinds.split(",")] if kinds else list(KINDS)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        fail(f"unknown mutation kind(s) {', '.join(unknown)}; kinds are {', '.join(KINDS)}")
    try:
        lo, hi = parse_sites(sites)
    except ValueError as exc:
        fail(str(exc))
    heldout = (
        [k.strip() for k in heldout_kinds.split(",")] if heldout_kinds else list(DEFAULT_HELDOUT)
    )
    options = GenerateOptions(
        n=n, seed=seed, kinds=chosen, min_sites=lo, max_sites=hi, workers=workers,
        timeout_s=timeout, max_candidates=max_candidates, heldout_kinds=heldout,
    )  # fmt: skip
    bench_repo = BenchRepos().open(repo, report=lambda m: output.print(f"[dim]{m}[/]"))
    source = bench_repo.source
    if source.kind == "path" and source.path is not None:
        from sandboxes.gitcmd import is_dirty

        if is_dirty(source.path):
            output.print(f"[yellow]note:[/] {source.path} has uncommitted changes; tasks are "
                         f"made from its commit {source.rev}, without them")  # fmt: skip
    target = out or Path(f"{bench_repo.source.name}-tasks.jsonl")
    generator = Generator(bench_repo, options, _settings(sandbox),
                          home().bench / "repos" / bench_repo.source.slug / "generate",
                          report=lambda m: output.print(f"[dim]{m}[/]"))  # fmt: skip
    tasks, stats = generator.run()
    write_tasks(target, tasks)
    stats_path = target.with_name(target.name.removesuffix(".jsonl") + ".stats.json")
    stats_path.write_text(stats.model_dump_json(indent=2) + "\n")
    _print_stats(output, stats)
    output.print(f"wrote {len(tasks)} tasks to [bold]{target}[/] (statistics: {stats_path})")
    if len(tasks) < n:
        output.print(f"[yellow]only {len(tasks)} of {n} tasks: the repository ran out of "
                     "mutation sites its tests catch, or the candidate budget was spent[/]")  # fmt: skip


@app.command()
def grade(
    tasks_file: Path = typer.Argument(..., help="task file (JSON or JSONL)"),
    predictions: Path | None = typer.Option(
        None, "--predictions", help="JSONL of {instance_id, model_patch}"
    ),
    gold: bool = typer.Option(False, "--gold", help="grade each task's own fix (sanity check)"),
    ids: str | None = typer.Option(None, "--ids", help="comma-separated instance ids"),
    workers: int = typer.Option(1, "--workers", help="tasks graded in parallel"),
    timeout: float = typer.Option(600.0, "--timeout", help="test time limit per task, seconds"),
    out: Path | None = typer.Option(None, "--out", help="write grades as JSONL (resumes)"),
    sandbox: str = typer.Option("config", "--sandbox", help="docker | local | auto | config"),
) -> None:
    """Grade patches (SWE-bench predictions, or the gold fixes) against their tasks."""
    from agent.cli.common import console, fail
    from bench.grading import Grader
    from bench.grading_runs import grade_many, load_predictions
    from bench.tasks import load_tasks

    if gold == (predictions is not None):
        fail("give exactly one of --predictions FILE or --gold")
    tasks = load_tasks(tasks_file)
    if ids:
        wanted = {i.strip() for i in ids.split(",")}
        tasks = [t for t in tasks if t.instance_id in wanted]
    patches = (
        {t.instance_id: t.patch or "" for t in tasks} if gold else load_predictions(predictions)
    )
    output = console()
    grader = Grader(settings=_settings(sandbox), timeout_s=timeout)
    grades = grade_many(grader, tasks, patches, workers=workers, out=out,
                        report=lambda g: output.print(
                            f"{'[green]resolved[/]' if g.resolved else '[red]unresolved[/]'}  "
                            f"{g.instance_id}  [dim]{g.summary()} ({g.duration_s:.1f}s)[/]"))  # fmt: skip
    resolved = sum(g.resolved for g in grades)
    output.print(f"resolved {resolved}/{len(grades)}" + (f"; grades in {out}" if out else ""))


@app.command()
def prepare(tasks_file: Path = typer.Argument(..., help="task file (JSON or JSONL)")) -> None:
    """Materialise the repositories of a task file and rebuild every base commit."""
    from agent.cli.common import console
    from bench.repos import BenchRepos
    from bench.tasks import load_tasks

    output = console()
    repos = BenchRepos()
    tasks = load_tasks(tasks_file)
    for task in tasks:
        repo = repos.open(task.repo, report=lambda m: output.print(f"[dim]{m}[/]"))
        repo.recreate(task)
    output.print(f"{len(tasks)} base commits resolve (bench store: {repos.root})")


@app.command()
def split(
    tasks_file: Path = typer.Argument(..., help="task file to (re)split in place"),
    seed: int = typer.Option(0, "--seed"),
    test_fraction: float = typer.Option(0.3, "--test-fraction"),
    heldout_kinds: str | None = typer.Option(None, "--heldout-kinds"),
) -> None:
    """Assign train/test splits (stratified by kind) and the held-out-kind group."""
    from agent.cli.common import console
    from bench.splits import DEFAULT_HELDOUT, assign_splits, split_summary
    from bench.tasks import read_task_file

    task_file = read_task_file(tasks_file)
    heldout = (
        [k.strip() for k in heldout_kinds.split(",")] if heldout_kinds else list(DEFAULT_HELDOUT)
    )
    assign_splits(task_file.tasks, seed, test_fraction, heldout)
    task_file.write(tasks_file)
    for kind, row in split_summary(task_file.tasks).items():
        console().print(f"{kind:>18}: {row}")


@app.command()
def bootstrap(
    tasks_file: Path = typer.Argument(..., help="task file (JSON or JSONL) with gold patches"),
    limit: int | None = typer.Option(None, "--limit", help="at most this many training tasks"),
    as_json: bool = typer.Option(False, "--json", help="one JSON line per task"),
) -> None:
    """Write bootstrap demonstrations: each *training* task's known fix walked through the
    small-model policy as a verified run (`source: bootstrap`), for `engram learn
    --bootstrap`. Test tasks are never used; fixes the policy cannot express are skipped."""
    import json
    import time

    from agent.cli.common import console, load
    from agent.home import Home
    from bench.bootstrap import write_demonstration
    from bench.repos import task_checkout
    from bench.tasks import load_tasks

    output = console()
    config = load().config
    home = Home.resolve()
    tasks = [t for t in load_tasks(tasks_file) if t.split == "train"]
    if limit is not None:
        tasks = tasks[:limit]
    if not tasks:
        raise typer.BadParameter(f"{tasks_file} has no training tasks (split: train)")
    written = 0
    for task in tasks:
        started = time.monotonic()
        trajectory = write_demonstration(task, task_checkout(task, home), home, config)
        seconds = round(time.monotonic() - started, 1)
        written += trajectory is not None
        if as_json:
            typer.echo(json.dumps({"instance_id": task.instance_id, "written": trajectory is not None,
                                   "run_id": trajectory.run_id if trajectory else None,
                                   "seconds": seconds}))  # fmt: skip
        else:
            what = (
                f"written ({trajectory.run_id})" if trajectory else "not expressible by the policy"
            )
            output.print(f"{task.instance_id}: {what}, {seconds} s")
    if not as_json:
        output.print(f"{written} of {len(tasks)} training tasks gave a demonstration "
                     f"(runs under {home.runs}, source: bootstrap)")  # fmt: skip


@repo_app.command("fetch")
def repo_fetch(
    spec: str = typer.Argument(..., help="NAME==VERSION (PyPI), or example:NAME"),
) -> None:
    """Materialise a source as a git repository with stable commits; print its path."""
    from agent.cli.common import console
    from bench.repos import BenchRepos

    output = console()
    repo = BenchRepos().open(spec, report=lambda m: output.print(f"[dim]{m}[/]"))
    # Plain lines (no wrapping): scripts read the path from the last one.
    typer.echo(f"{repo.source.spec}: clean commit {repo.clean_commit} (root {repo.root_commit})")
    typer.echo(str(repo.path))
