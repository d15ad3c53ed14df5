"""Which adapters `engram serve` loads at start, besides those given with `--adapter`."""

from __future__ import annotations

from pathlib import Path

from agent.home import Home


def store_adapters(home: Home) -> dict[str, Path]:
    """Adapters from the per-repo adapter store to preload: name → PEFT adapter folder.

    The seam where the adapter store (memory/, being written) is wired in: it will
    return each repository's `current` adapter version under the repository's id. Until
    that store exists there is nothing to list, so the mapping is empty; `--adapter`
    flags and runtime loading work regardless.
    """
    return {}


def parse_adapter_flags(flags: list[str]) -> dict[str, Path]:
    """`NAME=PATH` pairs from the command line; ValueError names the bad one."""
    out: dict[str, Path] = {}
    for flag in flags:
        name, sep, path = flag.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValueError(f"--adapter {flag!r}: expected NAME=PATH")
        out[name.strip()] = Path(path.strip()).expanduser()
    return out
