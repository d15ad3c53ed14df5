"""A PEFT LoRA adapter in llama.cpp's GGUF LoRA format, converted once and cached.

The conversion is llama.cpp's own `convert_lora_to_gguf.py` (see `llamacpp_tools`), run
in a subprocess with this interpreter (it needs torch, transformers and safetensors,
which engram has). It needs the base model's Hugging Face config: the converted folder
`<models>/<name>/hf/` that `engram models fetch` writes next to the GGUF.

The result is cached next to the adapter: `adapter.gguf` in the adapter's folder (an
adapter version of the store), with `adapter.gguf.json` saying what it was made from
(a digest of the adapter's weights and config, the llama-cpp-python version). A cache
whose source changed is converted again. Where the adapter folder is not writable the
cache goes to `$ENGRAM_HOME/cache/lora-gguf/<digest>.gguf` instead. Writes are atomic:
a reader sees the old file or the new one.

Tensors are stored as f16 (llama.cpp's default for adapters is f32; f16 halves the
file and the memory, and LoRA factors are small numbers trained in bf16/f32).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from agent import atomic
from agent.backends.adapters import check_adapter_dir
from agent.backends.base import BackendError

GGUF_NAME = "adapter.gguf"
STAMP_NAME = "adapter.gguf.json"
OUTTYPE = "f16"
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")

Report = Callable[[str], None]


def adapter_digest(adapter_dir: Path) -> str:
    """sha256 over the adapter's config and weights: what the conversion depends on."""
    digest = hashlib.sha256()
    for name in ("adapter_config.json", *_WEIGHTS):
        path = adapter_dir / name
        if path.is_file():
            digest.update(name.encode() + b"\0")
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 22):
                    digest.update(chunk)
    return digest.hexdigest()


def _stamp(adapter_dir: Path, version: str) -> dict[str, str]:
    return {"source_sha256": adapter_digest(adapter_dir), "llama_cpp_python": version,
            "outtype": OUTTYPE}  # fmt: skip


def stamp_matches(gguf: Path, stamp_file: Path, want: dict[str, str]) -> bool:
    """Whether a cached build exists and was made from exactly `want` (its stamp)."""
    if not gguf.is_file() or not stamp_file.is_file():
        return False
    try:
        return json.loads(stamp_file.read_text()) == want
    except (OSError, json.JSONDecodeError):
        return False


def _targets(adapter_dir: Path, digest: str, home_root: Path | None) -> list[tuple[Path, Path]]:
    from agent.home import engram_home

    home_cache = (home_root or engram_home()) / "cache" / "lora-gguf"
    return [
        (adapter_dir / GGUF_NAME, adapter_dir / STAMP_NAME),
        (home_cache / f"{digest}.gguf", home_cache / f"{digest}.json"),
    ]


def convert(adapter_dir: Path, base_hf_dir: Path, out: Path, report: Report = print,
            outtype: str = OUTTYPE) -> float:  # fmt: skip
    """Run llama.cpp's converter: `adapter_dir` (PEFT) → `out` (GGUF, tensors of
    `outtype`: f16, or f32/bf16/q8_0 for experiments). Returns seconds."""
    import time

    from agent.backends.llamacpp_tools import SCRIPT, ensure_tools

    tools = ensure_tools(report=report)
    if not (base_hf_dir / "config.json").is_file():
        raise BackendError(
            f"converting an adapter for llama.cpp needs the base model's config.json; "
            f"{base_hf_dir} has none. Run `engram models fetch` for the model."
        )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONNOUSERSITE": "1"}  # fmt: skip
    env.pop("NO_LOCAL_GGUF", None)  # the script must use the gguf-py it ships with
    cmd = [sys.executable, str(tools / SCRIPT), "--base", str(base_hf_dir), "--outfile", str(out),
           "--outtype", outtype, str(adapter_dir)]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tools, env=env)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise BackendError(
            f"llama.cpp's {SCRIPT} could not convert the adapter {adapter_dir}:\n{tail}\n"
            "Is it a LoRA adapter of this model (PEFT layout, adapter_config.json + weights)?"
        )
    return time.perf_counter() - started


def gguf_adapter(
    adapter_dir: Path, base_hf_dir: Path, home_root: Path | None = None, report: Report = print
) -> Path:
    """The GGUF form of the PEFT adapter in `adapter_dir`, converting it if not cached."""
    from agent.backends.llamacpp_tools import installed_version

    adapter_dir = Path(adapter_dir)
    check_adapter_dir(adapter_dir)
    if not any((adapter_dir / w).is_file() for w in _WEIGHTS):
        raise BackendError(f"{adapter_dir} has no adapter weights ({' or '.join(_WEIGHTS)})")
    want = _stamp(adapter_dir, installed_version() or "none")
    targets = _targets(adapter_dir, want["source_sha256"], home_root)
    for gguf, stamp_file in targets:
        if stamp_matches(gguf, stamp_file, want):
            return gguf
    for gguf, stamp_file in targets:
        try:
            gguf.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=gguf.parent, prefix=f".{gguf.name}.", suffix=".tmp")
        except OSError:
            continue  # not writable: the next place
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            report(f"converting adapter {adapter_dir.name} to llama.cpp's format (one time)")
            convert(adapter_dir, Path(base_hf_dir), tmp, report)
            os.replace(tmp, gguf)
            atomic.write_text(stamp_file, json.dumps(want, indent=2) + "\n")
        finally:
            tmp.unlink(missing_ok=True)
        return gguf
    raise BackendError(
        f"nowhere to write the converted adapter: {adapter_dir} and ENGRAM_HOME are read-only"
    )
