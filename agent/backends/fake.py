"""FakeBackend: scripted replies, for tests of logic that sits above a backend.

A script item is the reply text, a Generation (full control: tool calls, logprobs,
hidden states), or a callable `(messages, options) -> str | Generation` for replies
that depend on the conversation. Running out of script is an error, not silence.

With `options.prefix` (prefill) a script item is the continuation only, as a real
backend returns it. `score` (with `scorer=`) answers from a callable
`(messages, reply) -> Generation`, so tests can say where the "model" disagrees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from agent.backends.base import BackendCapabilities, BackendError, Generation, GenerationOptions
from agent.types import ChatMessage, TokenUsage, ToolSpec

ScriptItem = str | Generation | Callable[[list[ChatMessage], GenerationOptions], "str | Generation"]


class FakeBackend:
    name = "fake"

    def __init__(
        self,
        script: Sequence[ScriptItem],
        model_id: str = "fake-model",
        capabilities: BackendCapabilities | None = None,
        scorer: Callable[[list[ChatMessage], str], Generation] | None = None,
    ):
        self.script = list(script)
        self.scorer = scorer
        self.scored: list[tuple[list[ChatMessage], str]] = []
        self.model_id = model_id
        self.capabilities = capabilities or BackendCapabilities(adapters=True)
        self.calls: list[tuple[list[ChatMessage], str | None, GenerationOptions]] = []
        self.adapters: dict[str, Path] = {}

    def generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
    ) -> Generation:
        options = options or GenerationOptions()
        if options.prefix and not self.capabilities.prefill:
            raise ValueError("this fake backend has no prefill (capabilities.prefill)")
        if adapter is not None and adapter not in self.adapters:
            raise BackendError(f"adapter {adapter!r} is not loaded")
        self.calls.append((list(messages), adapter, options))
        if not self.script:
            raise BackendError(f"fake backend script exhausted after {len(self.calls) - 1} replies")
        item = self.script.pop(0)
        if callable(item):
            item = item(messages, options)
        if isinstance(item, Generation):
            return item
        usage = TokenUsage(
            prompt_tokens=self.count_tokens(messages), completion_tokens=len(item.split())
        )
        return Generation(text=item, usage=usage)

    def score(
        self,
        messages: list[ChatMessage],
        reply: str,
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        top_logprobs: int = 0,
    ) -> Generation:
        if self.scorer is None:
            raise BackendError("this fake backend was given no scorer")
        if not reply:
            raise ValueError("reply is empty")
        self.scored.append((list(messages), reply))
        return self.scorer(list(messages), reply)

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return sum(len(m.content.split()) + 4 for m in messages)

    def load_adapter(self, name: str, path: Path) -> None:
        self.adapters[name] = path

    def unload_adapter(self, name: str) -> None:
        self.adapters.pop(name, None)

    def close(self) -> None:
        pass
