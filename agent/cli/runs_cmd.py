"""`engram runs list|show|resume|fork|apply|export`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Inspect, resume, fork, apply and export runs.", no_args_is_help=True)


def _store():
    from agent.cli.common import home
    from memory.trajectories import TrajectoryStore

    return TrajectoryStore(home().runs)


@app.command("list")
def list_runs(limit: int = typer.Option(20, help="newest N runs")) -> None:
    """Runs, newest last: status, verification, steps, branch."""
    from rich.table import Table

    from agent.cli.common import console

    store = _store()
    table = Table("run", "task", "status", "tests", "steps", "branch")
    for run_id in store.run_ids()[-limit:]:
        try:
            t = store.load(run_id)
        except Exception as exc:  # one unreadable run must not hide the others
            table.add_row(run_id, "?", f"[red]unreadable: {exc}[/]", "", "", "")
            continue
        status = str(t.exit_status) if t.exit_status else "[yellow]unfinished[/]"
        tests = (
            "-"
            if t.verification is None
            else ("[green]pass[/]" if t.verification.passed else "[red]fail[/]")
        )
        table.add_row(run_id, t.task.id, status, tests, str(len(t.kept_steps)), t.branch or "")
    console().print(table)


@app.command("show")
def show(
    run_id: str,
    full: bool = typer.Option(False, "--full", help="whole observations"),
    plot: Path = typer.Option(None, "--plot", help="also write the probe scores as a PNG here"),
) -> None:
    """A run step by step: actions, outcomes, probe readings, resamples and rollbacks."""
    from agent.cli.common import console
    from agent.cli.progress import ProgressPrinter, summary
    from agent.graph.context import Event
    from probes.plots import plot_run, sparkline

    out = console()
    store = _store()
    t = store.load(run_id)
    out.print(f"[bold]{t.run_id}[/] task {t.task.id} · model {t.model_id} · adapter "
              f"{t.adapter_version if t.adapter_version is not None else 'none'} · policy {t.policy}")  # fmt: skip
    out.print(f"[dim]{t.task.problem_statement.strip()[:400]}[/]")
    printer = ProgressPrinter(out, verbose=full)
    for step in t.steps:
        if step.resampled:
            printer(Event("resampled", step, text=step.reason or ""))
        else:
            printer(Event("executed", step))
            if step.rolled_back:
                out.print(f"          [magenta]↺ rolled back[/] [dim]{step.reason}[/]")
    scores = sparkline(t)
    if scores:
        out.print("[bold]probe scores[/] (one character per step)")
        out.print(scores, markup=False)
    if plot is not None:
        out.print(f"plot: {plot_run(t, plot)}")
    if t.exit_status is None:
        out.print(f"[yellow]unfinished[/]: resume with `engram runs resume {run_id}`")
        return
    summary(out, t, store.run_dir(run_id))


@app.command("apply")
def apply(run_id: str, yes: bool = typer.Option(False, "--yes", "-y", help="do not ask")) -> None:
    """Show a run's patch and apply it to your checkout (refuses a dirty checkout)."""
    from agent.cli.common import console, fail
    from sandboxes.gitcmd import GitError, git, is_dirty

    out = console()
    t = _store().load(run_id)
    if not t.final_diff.strip():
        fail(f"run {run_id} made no changes; nothing to apply")
    repo = Path(t.task.repo)
    if not (repo / ".git").exists():
        fail(f"{repo} is not the git repository the run was made for (moved?)")
    if is_dirty(repo):
        fail(f"{repo} has uncommitted changes; commit or stash them first — engram never "
             f"touches a dirty checkout. (Or check out branch {t.branch} instead.)")  # fmt: skip
    out.print(t.final_diff)
    try:
        git(["apply", "--check", "--binary", "-"], cwd=repo, input=t.final_diff.encode())
    except GitError as exc:
        fail(f"the patch does not apply to your current checkout ({exc.stderr.strip()}). "
             f"Check out branch {t.branch} instead.")  # fmt: skip
    if not yes and not typer.confirm(f"Apply this patch to {repo}?"):
        raise typer.Exit(1)
    git(["apply", "--binary", "-"], cwd=repo, input=t.final_diff.encode())
    out.print(f"[green]applied[/] to {repo} (uncommitted: review with `git diff`)")


@app.command("export")
def export(
    out_path: Path = typer.Option(..., "--out", help="JSONL file to write"),
    verified_only: bool = typer.Option(True, "--verified-only/--all"),
) -> None:
    """Write trajectories as JSONL chat data (kept steps only: dropped steps never teach)."""
    import json

    from agent.cli.common import console
    from agent.prompting import observation_text

    count = 0
    with out_path.open("w", encoding="utf-8") as handle:
        for t in _store():
            if verified_only and not t.eligible_for_learning:
                continue
            messages = [{"role": "user", "content": t.task.problem_statement}]
            for step in t.kept_steps:
                messages.append({"role": "assistant", "content": step.message})
                messages.append({"role": "user", "content": observation_text(step, 4000)})
            record = {"run_id": t.run_id, "repo_id": t.repo_id, "verified_by": t.verified_by,
                      "messages": messages}  # fmt: skip
            handle.write(json.dumps(record) + "\n")
            count += 1
    console().print(f"wrote {count} trajectories to {out_path}")
