"""Entry point of the `engram` command."""

from __future__ import annotations

import typer

from agent.cli import (
    bench_cmd,
    bench_run_cmd,
    bot_cmd,
    config_cmd,
    learn_cmd,
    memory_cmd,
    models_cmd,
    probes_cmd,
    probes_collect_cmd,
    run_cmd,
    runs_cmd,
    sandbox_cmd,
    serve_cmd,
    setup_cmd,
)

app = typer.Typer(
    name="engram",
    help="A self-improving coding agent with weight-level memory per repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models_cmd.app, name="models")
app.add_typer(config_cmd.app, name="config")
app.add_typer(runs_cmd.app, name="runs")
run_cmd.register(app, runs_cmd.app)
app.add_typer(bot_cmd.app, name="bot")
app.add_typer(sandbox_cmd.app, name="sandbox")
app.add_typer(probes_cmd.app, name="probes")
probes_collect_cmd.register(probes_cmd.app)
app.add_typer(memory_cmd.app, name="memory")
learn_cmd.register(app)
app.add_typer(bench_cmd.app, name="bench")
bench_run_cmd.register(bench_cmd.app)
setup_cmd.register(app)
serve_cmd.register(app)


def main() -> None:
    from agent.cli.common import err_console, is_user_error

    try:
        app()
    except KeyboardInterrupt:
        err_console().print("[yellow]interrupted[/]")
        raise SystemExit(130) from None
    except Exception as exc:
        if not is_user_error(exc):
            raise
        err_console().print(f"[bold red]error:[/] {exc}")
        raise SystemExit(2) from None
