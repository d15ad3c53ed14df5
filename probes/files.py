"""How probe parts are written: safetensors for arrays, JSON for the rest — no pickle.

Each part (step probe, prefix integrator, the card) checks its own `format_version`
on load and refuses versions it does not know rather than guessing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class ProbeFormatError(ValueError):
    """Stored probe files that this version cannot read; the message says what to do."""

    user_facing = True


def read_meta(path: Path, version: int) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ProbeFormatError(
            f"{path} cannot be read ({exc}); retrain with `engram probes train`"
        ) from exc
    if not isinstance(meta, dict) or meta.get("format_version") != version:
        found = meta.get("format_version") if isinstance(meta, dict) else None
        raise ProbeFormatError(
            f"{path} has format_version {found}, this engram reads {version}; "
            "retrain with `engram probes train`"
        )
    return meta


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=2, sort_keys=True))


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))


def load_arrays(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        arrays = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise ProbeFormatError(
            f"{path} cannot be read ({exc}); retrain with `engram probes train`"
        ) from exc
    missing = [n for n in names if n not in arrays]
    if missing:
        raise ProbeFormatError(f"{path} lacks {', '.join(missing)}; retrain the probe")
    return arrays
