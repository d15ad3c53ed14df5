"""`engram config show`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Inspect engram's configuration.", no_args_is_help=True)


@app.command("show")
def show(
    repo: Path = typer.Option(None, "--repo", help="include this repository's engram.toml"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Print the merged configuration and where each value came from."""
    import json

    from rich.table import Table

    from agent.cli.common import console, load

    loaded = load(repo=repo)
    if as_json:
        rows = {k: {"value": v, "source": s} for k, v, s in loaded.rows()}
        print(json.dumps(rows, indent=2))
        return
    table = Table("key", "value", "source")
    for key, value, source in loaded.rows():
        style = "dim" if source == "default" else ""
        table.add_row(key, repr(value), source, style=style)
    console().print(table)
