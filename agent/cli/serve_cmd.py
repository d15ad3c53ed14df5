"""`engram serve`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    model: str = typer.Option(None, "--model", help="registry name, folder, .gguf or hub id"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (loopback by default)"),
    port: int = typer.Option(8000, "--port"),
    adapter: list[str] = typer.Option(
        None, "--adapter", help="NAME=PATH of a PEFT LoRA adapter to load at start (repeatable)"
    ),
    served_model_name: str = typer.Option(
        None, "--served-model-name", help="the base model's name in the API (default: --model)"
    ),
    device: str = typer.Option(None, "--device", help="auto | cpu | cuda | cuda:N"),
    dtype: str = typer.Option(None, "--dtype", help="bfloat16 | float32 | float16"),
    threads: int = typer.Option(None, "--threads", help="CPU threads (0: all cores)"),
    api_key_env: str = typer.Option(
        None, "--api-key-env", help="require the key in this environment variable as a bearer token"
    ),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Serve the model (and its LoRA adapters) as an OpenAI-compatible API, like `vllm serve`."""
    import os

    from agent.backends.hf import HFBackend
    from agent.cli.common import console, fail, home, load
    from agent.serve.preload import parse_adapter_flags, store_adapters
    from agent.serve.server import run_server

    out = console()
    cfg = load(
        model__name=model, model__device=device, model__dtype=dtype, model__threads=threads
    ).config
    try:
        given = parse_adapter_flags(adapter or [])
    except ValueError as exc:
        fail(str(exc))
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            fail(f"--api-key-env {api_key_env}: that environment variable is empty or unset")
    h = home()
    out.print(f"loading {cfg.model.name} ({cfg.model.dtype}, device {cfg.model.device}) …")
    backend = HFBackend.from_config(cfg.model, h)
    out.print(f"loaded {backend.model_id} on {backend.device} in {backend.load_seconds:.1f}s")
    run_server(
        backend,
        served_name=served_model_name or cfg.model.name,
        host=host,
        port=port,
        adapters={**store_adapters(h), **given},
        default_max_tokens=cfg.model.max_new_tokens,
        context_tokens=cfg.model.context_tokens,
        api_key=api_key,
        log_level=log_level,
        report=lambda m: out.print(m),
    )
