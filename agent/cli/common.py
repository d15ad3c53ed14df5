"""Shared CLI plumbing: the console, config loading with flags, and user-facing errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

EXIT_USAGE = 2


def console():
    from rich.console import Console

    return Console(highlight=False)


def err_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    err_console().print(f"[bold red]error:[/] {message}")
    raise SystemExit(code)


def is_user_error(exc: BaseException) -> bool:
    """Errors whose message is written for people (class attribute `user_facing = True`)
    are shown without a traceback. A marker attribute rather than a shared base class,
    because the bottom layers (sandboxes, tools) cannot import agent."""
    return bool(getattr(exc, "user_facing", False))


def load(repo: Path | None = None, **flags: Any):
    """Merged config for a command; flags use dotted keys (`sandbox.kind`)."""
    from agent.config import load_config

    return load_config(repo=repo, flags={k.replace("__", "."): v for k, v in flags.items()})


def home():
    from agent.home import Home

    return Home.resolve()
