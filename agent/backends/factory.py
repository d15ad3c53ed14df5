"""Open the backend the config asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.backends.base import BackendError, LLMBackend

if TYPE_CHECKING:
    from agent.config import ModelSection
    from agent.home import Home


def open_backend(section: ModelSection, home: Home | None = None) -> LLMBackend:
    """`auto` is `llamacpp` where llama-cpp-python is installed, no CUDA device is in use
    and the model has a GGUF (about four times less CPU per token, docs/llamacpp.md);
    otherwise the in-process `hf` backend. Training and the teacher always use `hf`.

    Loading the model takes seconds; callers that need it more than once keep the result.
    """
    kind = section.backend
    if kind == "auto":
        kind = auto_kind(section, home)
    if kind == "hf":
        from agent.backends.hf import HFBackend

        return HFBackend.from_config(section, home)
    if kind == "llamacpp":
        from agent.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend.from_config(section, home)
    if kind == "openai":
        from agent.backends.openai import OpenAIBackend

        return OpenAIBackend.from_config(section)
    raise BackendError(
        f"model.backend = {kind!r} cannot be opened from config (the fake backend is built "
        "in code by tests). Use auto, hf, llamacpp or openai."
    )


def auto_kind(section: ModelSection, home: Home | None = None) -> str:
    """What `model.backend = auto` means here: "llamacpp" or "hf"."""
    from agent.backends.llamacpp import available

    if not available() or _cuda_wanted(section.device):
        return "hf"
    from agent.backends.gguf_files import resolve_gguf
    from agent.home import Home

    try:
        resolve_gguf(section.name, (home or Home.resolve()).models)
    except BackendError:
        return "hf"  # a hub id or a folder without its GGUF: transformers runs it
    return "llamacpp"


def _cuda_wanted(device: str) -> bool:
    if device.startswith("cuda"):
        return True
    if device != "auto":
        return False
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())
