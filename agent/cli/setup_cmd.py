"""`engram setup` and `engram doctor`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("setup")(setup)
    app.command("doctor")(doctor)


def setup(
    docker: bool = typer.Option(True, "--docker/--no-docker", help="engine + sandbox image"),
    model: bool = typer.Option(True, "--model/--no-model", help="fetch the configured model"),
    extra_model: list[str] = typer.Option(None, "--also", help="fetch more registry models"),
) -> None:
    """Provision what engram needs beyond Python packages. Idempotent; fast when done."""
    from agent.cli.common import console, home, load
    from agent.provision import run_setup

    out = console()
    cfg = load().config
    models = [cfg.model.name, *(extra_model or [])]
    run_setup(cfg, home(), lambda m: out.print(m), docker=docker, model=model, models=models)
    out.print("[green]setup complete[/]")


def doctor(
    quick: bool = typer.Option(False, "--quick", help="trust the model's digest stamp"),
) -> None:
    """Check this machine and print what is missing with the command that fixes it."""
    from rich.table import Table

    from agent.cli.common import console, home, load
    from agent.doctor import run_checks

    checks = run_checks(load().config, home(), full_hash=not quick)
    table = Table("check", "", "detail", "fix")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[red]FAIL[/]" if c.required else "[yellow]warn[/]")
        table.add_row(c.name, mark, c.detail, "" if c.ok else c.fix)
    console().print(table)
    failed = [c for c in checks if c.required and not c.ok]
    if failed:
        console().print(f"[red]{len(failed)} problem(s)[/]: run the commands in the fix column.")
        raise typer.Exit(1)
    console().print("[green]all good[/]")
