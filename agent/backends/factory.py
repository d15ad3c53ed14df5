"""Open the backend the config asks for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.backends.base import BackendError, LLMBackend

if TYPE_CHECKING:
    from agent.config import ModelSection
    from agent.home import Home


def open_backend(section: ModelSection, home: Home | None = None) -> LLMBackend:
    """`auto` is the in-process `hf` backend: the one that trains and exposes hidden states.

    Loading the model takes seconds; callers that need it more than once keep the result.
    """
    kind = section.backend
    if kind in ("auto", "hf"):
        from agent.backends.hf import HFBackend

        return HFBackend.from_config(section, home)
    if kind == "openai":
        from agent.backends.openai import OpenAIBackend

        return OpenAIBackend.from_config(section)
    raise BackendError(
        f"model.backend = {kind!r} cannot be opened from config here (the fake backend is "
        "built in code by tests; llamacpp is not part of this build). Use hf, openai or auto."
    )
