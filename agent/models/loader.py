"""Resolve a model reference and load it with transformers.

A reference is, in order of precedence: a registry name (loads the converted folder
under the models directory), a local folder, a local `.gguf` file, or a hub id (only
where a hub is reachable). Resolution is cheap and import-free; loading imports torch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent.models.fetch import MANIFEST, ModelPaths, converted
from agent.models.registry import REGISTRY


class ModelNotAvailable(RuntimeError):
    """The reference names nothing loadable here; the message says how to get it."""

    user_facing = True


@dataclass(frozen=True)
class ResolvedModel:
    ref: str
    kind: Literal["registry", "folder", "gguf", "hub"]
    model_id: str
    path: Path | None = None
    gguf_file: str | None = None
    sha256: str | None = None
    gguf_path: Path | None = None  # the quantized source, for llama.cpp

    @property
    def load_args(self) -> tuple[str, dict[str, Any]]:
        if self.kind == "gguf":
            assert self.path is not None
            return str(self.path.parent), {"gguf_file": self.gguf_file}
        if self.path is not None:
            return str(self.path), {}
        return self.model_id, {}


def resolve_model(ref: str, models_dir: Path) -> ResolvedModel:
    spec = REGISTRY.get(ref)
    if spec is not None:
        paths = ModelPaths(models_dir, spec)
        if not converted(paths):
            raise ModelNotAvailable(
                f"model '{ref}' is not fetched yet (looked in {paths.hf}). "
                f"Run `engram models fetch {ref}` (or `make setup`)."
            )
        return ResolvedModel(
            ref, "registry", spec.hub_id, path=paths.hf, sha256=spec.sha256,
            gguf_path=paths.gguf if paths.gguf.is_file() else None,
        )  # fmt: skip
    path = Path(ref).expanduser()
    if path.is_dir():
        manifest = path / MANIFEST
        meta = json.loads(manifest.read_text()) if manifest.is_file() else {}
        return ResolvedModel(
            ref, "folder", meta.get("model_id", str(path.resolve())), path=path.resolve(),
            sha256=meta.get("source_sha256"),
        )  # fmt: skip
    if path.is_file() and path.suffix == ".gguf":
        return ResolvedModel(
            ref, "gguf", str(path.resolve()), path=path.resolve(), gguf_file=path.name,
            gguf_path=path.resolve(),
        )  # fmt: skip
    if path.exists():
        raise ModelNotAvailable(f"{ref} is neither a model folder nor a .gguf file")
    if "/" in ref and not ref.startswith((".", "/", "~")):
        return ResolvedModel(ref, "hub", ref)
    known = ", ".join(sorted(REGISTRY))
    raise ModelNotAvailable(
        f"unknown model '{ref}': not a registry name ({known}), a folder, a .gguf file or a hub id"
    )


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def load_causal_lm(resolved: ResolvedModel, dtype: str = "bfloat16", device: str = "auto"):
    """Load (model, tokenizer). Hub ids fail with a clear message where no hub answers."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target, extra = resolved.load_args
    torch_dtype = getattr(torch, dtype)
    started = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(target, **extra)
        model = AutoModelForCausalLM.from_pretrained(target, dtype=torch_dtype, **extra)
    except OSError as exc:
        if resolved.kind == "hub":
            raise ModelNotAvailable(
                f"could not load '{resolved.ref}' from the model hub ({exc}). Without a hub, use "
                "a registry model (`engram models list`), a local folder or a .gguf file."
            ) from exc
        raise
    model.to(pick_device(device))
    model.eval()
    model.engram_load_seconds = time.perf_counter() - started  # type: ignore[attr-defined]
    return model, tokenizer
