"""Which GGUF a model reference names, for the `llamacpp` backend: a registry model, a
converted transformers folder (its GGUF lives in ../gguf/), or a .gguf file (its converted
folder, when there is one, in ../hf/). The converted folder is what adapters are merged
or converted against; the ids are the ones the `hf` backend reports for the same model,
so an adapter trained there is recognised here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.backends.base import BackendError


@dataclass(frozen=True)
class GgufModel:
    """What the backend loads: the GGUF, and the converted HF folder next to it (for
    adapter conversion), with the ids the `hf` backend reports for the same model."""

    gguf: Path
    hf_dir: Path | None
    model_id: str
    sha256: str | None


def resolve_gguf(ref: str, models_dir: Path) -> GgufModel:
    """The GGUF behind a model reference (registry name, converted folder, .gguf file)."""
    import json

    from agent.models.fetch import MANIFEST
    from agent.models.loader import ModelNotAvailable, resolve_model

    try:
        resolved = resolve_model(ref, models_dir)
    except ModelNotAvailable as exc:
        raise BackendError(str(exc)) from exc
    if resolved.kind == "hub":
        raise BackendError(
            f"the llamacpp backend runs GGUF files; {ref!r} is a hub id. Use a registry model, "
            "a .gguf file or a converted folder, or model.backend = hf."
        )
    if resolved.kind == "registry":
        if resolved.gguf_path is None:
            raise BackendError(f"the GGUF of {ref!r} is missing; run `engram models fetch {ref}`")
        return GgufModel(resolved.gguf_path, resolved.path, resolved.model_id, resolved.sha256)
    if resolved.kind == "folder":
        assert resolved.path is not None
        manifest = resolved.path / MANIFEST
        source = json.loads(manifest.read_text()).get("source") if manifest.is_file() else None
        gguf = resolved.path.parent / "gguf" / source if source else None
        if gguf is None or not gguf.is_file():
            raise BackendError(
                f"{resolved.path} is a transformers folder without its GGUF next to it "
                "(../gguf/); the llamacpp backend needs the .gguf. Use model.backend = hf."
            )
        return GgufModel(gguf, resolved.path, resolved.model_id, resolved.sha256)
    assert resolved.path is not None  # a .gguf file
    sibling = resolved.path.parent.parent / "hf"
    meta_file = sibling / MANIFEST
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    if meta.get("source") == resolved.path.name:
        return GgufModel(resolved.path, sibling, meta.get("model_id", resolved.model_id),
                         meta.get("source_sha256"))  # fmt: skip
    return GgufModel(resolved.path, None, resolved.model_id, None)
