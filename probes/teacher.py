"""Hidden states for backends that do not expose them, by teacher forcing.

A server backend (vLLM, any OpenAI-compatible one) returns text, not hidden states.
The teacher is the same base model loaded in this process (`hf` backend): after each
generation it runs one forward pass over the prompt messages + the generated text
(with the same adapter) and takes the capture layer's states at the positions that
predicted the step's tokens — what the generating model's states were, up to numerics
and tokenisation. `TeacherBackend` wraps the server backend so that the graph and the
monitor see ordinary Generations with `hidden` filled.

Cost: one prefill-sized forward pass per step (see docs/probes.md), and the model's
memory once per process (`open_teacher` keeps the teacher for the next run).
Where no in-process copy of the model can be loaded, `open_teacher` raises
`TeacherUnavailable` with the reason, and probes are off for the run (the monitor says
so in every reading).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent.backends.base import BackendCapabilities, Generation, GenerationOptions, LLMBackend
from agent.types import ChatMessage, ToolSpec

if TYPE_CHECKING:  # pragma: no cover
    from agent.config import ModelSection
    from agent.home import Home


class TeacherUnavailable(RuntimeError):
    """No in-process copy of the model can be had; the message says why."""


@runtime_checkable
class Teacher(Protocol):
    """What teacher forcing needs (the `hf` backend provides exactly this)."""

    model_id: str

    def replay(
        self,
        messages: list[ChatMessage],
        completion: list[int] | str,
        tools: Any = None,
        adapter: str | None = None,
        capture_layer: int | None = None,
    ) -> Generation: ...

    def load_adapter(self, name: str, path: Path) -> None: ...

    def unload_adapter(self, name: str) -> None: ...


def canonical_model_id(model_id: str) -> str:
    """Registry names and their hub ids are one model: `qwen2.5-coder-0.5b-instruct` →
    `Qwen/Qwen2.5-Coder-0.5B-Instruct` (probes are stored under the latter)."""
    from agent.models.registry import REGISTRY

    spec = REGISTRY.get(model_id)
    return spec.hub_id if spec is not None else model_id


# The last teacher loaded, by what it was loaded from: a bench or a bot runs many tasks in
# one process and builds a run's parts per task; the model is loaded once.
_loaded: dict[tuple, Teacher] = {}


def open_teacher(section: ModelSection, home: Home | None = None) -> Teacher:
    """The configured model in process, for teacher forcing (loaded once per process)."""
    try:
        from agent.backends.hf import HFBackend
    except ImportError as exc:  # pragma: no cover - the hf backend ships with engram
        raise TeacherUnavailable(f"the in-process backend cannot be imported ({exc})") from exc
    from agent.backends.base import BackendError
    from agent.home import Home

    home = home or Home.resolve()
    key = (section.name, section.dtype, section.device, section.threads, str(home.models))
    if key in _loaded:
        return _loaded[key]
    try:
        teacher = HFBackend(
            section.name, dtype=section.dtype, device=section.device, threads=section.threads,
            models_dir=home.models,
        )  # fmt: skip
    except (BackendError, OSError, ValueError) as exc:
        raise TeacherUnavailable(f"model {section.name!r} cannot be loaded here: {exc}") from exc
    _loaded.clear()  # one at a time: a teacher is a whole model in memory
    _loaded[key] = teacher
    return teacher


class TeacherBackend:
    """An LLMBackend that adds teacher-forced hidden states (and logprobs, entropies where
    the inner backend gave none) to the inner backend's generations.

    Failures of the teacher never fail the step: the generation is returned without
    hidden states and `last_error` says why (the monitor then reports probes off)."""

    def __init__(self, inner: LLMBackend, teacher: Teacher):
        if canonical_model_id(teacher.model_id) != canonical_model_id(inner.model_id):
            raise TeacherUnavailable(
                f"the teacher is {teacher.model_id!r} but the backend serves {inner.model_id!r}; "
                "hidden states of another model would be meaningless"
            )
        self.inner = inner
        self.teacher = teacher
        self.name = f"{inner.name}+teacher"
        self.model_id = inner.model_id
        self.capabilities: BackendCapabilities = dataclasses.replace(
            inner.capabilities, hidden_states=True
        )
        self.last_error: str | None = None
        self.replays = 0
        self.replay_seconds = 0.0

    def generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
    ) -> Generation:
        generation = self.inner.generate(messages, tools=tools, adapter=adapter, options=options)
        layer = options.capture_layer if options is not None else None
        if layer is None or generation.hidden is not None or not generation.text:
            return generation
        try:
            forced = self.teacher.replay(
                messages, generation.text, tools=tools, adapter=adapter, capture_layer=layer
            )
        except Exception as exc:  # the step stands; only its features are lost
            self.last_error = f"teacher forcing failed: {exc}"
            return generation
        self.last_error = None
        self.replays += 1
        self.replay_seconds += forced.seconds
        return dataclasses.replace(
            generation, hidden=forced.hidden, hidden_layer=forced.hidden_layer,
            logprobs=generation.logprobs if generation.logprobs is not None else forced.logprobs,
            entropies=(
                generation.entropies if generation.entropies is not None else forced.entropies
            ),
        )  # fmt: skip

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return self.inner.count_tokens(messages)

    def load_adapter(self, name: str, path: Path) -> None:
        self.inner.load_adapter(name, path)
        self.teacher.load_adapter(name, path)

    def unload_adapter(self, name: str) -> None:
        self.inner.unload_adapter(name)
        self.teacher.unload_adapter(name)

    def close(self) -> None:
        # The teacher outlives the run: open_teacher keeps it for the next one.
        self.inner.close()
