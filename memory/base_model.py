"""Which base model an adapter belongs to: a stable id and a hash of its weights.

An adapter is a delta on specific weights; loaded on any other weights it is noise.
The hash is therefore of the weights, not of a name:

- a folder converted by `engram models fetch` records the sha256 of the verified GGUF
  it came from (`engram-model.json: source_sha256`), which is used as is (no re-hash
  of 1.2 GB on every load);
- any other folder is hashed: config.json plus every *.safetensors / *.bin file,
  streamed, and cached in `.engram-weights.sha256` keyed by size and mtime.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from agent import atomic
from agent.models.fetch import MANIFEST

CACHE = ".engram-weights.sha256"
_WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class BaseModelIdentity:
    model_id: str
    hash: str


def _stat_key(files: list[Path]) -> str:
    return ";".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)


def weights_hash(folder: Path) -> str:
    weights = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in _WEIGHT_SUFFIXES)
    files = [p for p in [*weights, folder / "config.json"] if p.is_file()]
    if not weights:
        raise FileNotFoundError(f"{folder} holds no model weights")
    key = _stat_key(files)
    cache = folder / CACHE
    try:
        cached_key, cached_hash = cache.read_text().split("\n")[:2]
        if cached_key == key:
            return cached_hash
    except (OSError, ValueError):
        pass
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    value = digest.hexdigest()
    # A read-only model folder just means hashing again next time.
    with contextlib.suppress(OSError):
        atomic.write_text(cache, f"{key}\n{value}\n")
    return value


def identify(folder: Path) -> BaseModelIdentity:
    """Identity of a model folder (converted by engram, or any HF folder)."""
    manifest = folder / MANIFEST
    if manifest.is_file():
        meta = json.loads(manifest.read_text())
        if meta.get("source_sha256"):
            return BaseModelIdentity(meta.get("model_id", folder.name), meta["source_sha256"])
    return BaseModelIdentity(str(folder.resolve()), weights_hash(folder))
