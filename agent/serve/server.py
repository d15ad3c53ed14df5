"""Run the app with uvicorn: load the model, preload adapters, serve until interrupted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.backends.hf import HFBackend


class ServeError(RuntimeError):
    """The server cannot start; the message says why and what to do."""

    user_facing = True


def run_server(
    backend: HFBackend,
    *,
    served_name: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    adapters: dict[str, Path] | None = None,
    default_max_tokens: int = 384,
    context_tokens: int = 8192,
    api_key: str | None = None,
    log_level: str = "info",
    report: Callable[[str], None] = print,
) -> None:
    import uvicorn

    from agent.backends.base import BackendError
    from agent.serve.app import create_app
    from agent.serve.state import ServeState

    for name, path in (adapters or {}).items():
        try:
            backend.load_adapter(name, path)
        except BackendError as exc:
            raise ServeError(f"adapter {name}: {exc}") from exc
        report(f"adapter {name} ← {path}")
    state = ServeState(
        backend=backend, served_name=served_name, default_max_tokens=default_max_tokens,
        context_tokens=context_tokens, api_key=api_key,
    )  # fmt: skip
    logging.getLogger("engram.serve").setLevel(log_level.upper())
    config = uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        log_level=log_level,
        access_log=log_level == "debug",
    )
    server = uvicorn.Server(config)
    report(
        f"starting: {served_name} on http://{host}:{port}/v1 — one request at a time on the model; "
        "Ctrl-C stops"
    )
    try:
        server.run()
    except SystemExit:
        # uvicorn exits the process when it cannot bind; say why in engram's words.
        if server.started:
            raise
    if not server.started:
        raise ServeError(
            f"could not listen on {host}:{port} (in use, or not an address of this machine). "
            "Pick another --port or --host."
        )
