"""The LLMBackend protocol: one chat turn in, one Generation out.

Implementations: `hf` (transformers + PEFT in process: the embedded default, the only
one that trains and exposes hidden states natively), `llamacpp` (fast local
generation), `openai` (any OpenAI-compatible server, vLLM with LoRA in production),
`fake` (scripted, for tests). Every implementation passes
`tests/agent/backends/test_contract.py`.

Contract:
- `generate` never raises for what the model said; transport or load failures raise
  `BackendError` (user-facing message). Invalid options (a capture layer out of range, a
  logit bias outside the vocabulary) raise `ValueError`.
- `tools` are offered as native tool schemas where `capabilities.native_tools`; the
  text protocol is the agent's business (it renders tools into the prompt itself).
  Parsed calls go to `tool_calls` (then `finish_reason` is "tool_calls"); for `hf` the
  text keeps the `<tool_call>` blocks, for `openai` it is the server's `content`.
- With `options.seed` set and temperature 0, output is deterministic for a backend.
- `stop`: the text ends before the earliest stop string (which is not included).
  `usage.completion_tokens` counts every token generated; the per-token arrays cover the
  tokens that start before the stop string.
- `adapter` names an adapter loaded with `load_adapter`; None means the base model.
  Adapters are isolated per name: generating with one never leaks another's weights.
  `load_adapter` with a name already loaded replaces that adapter.
- `logprobs` (log p of each generated token) and `entropies` (entropy in nats of the
  full next-token distribution) come from the model's raw distribution, before logit
  bias, temperature or top-p (vLLM's default `logprobs_mode` too). `logprobs` is filled where `capabilities.logprobs`;
  `entropies` wherever the backend can compute them (`hf` always, `openai` only from a
  server that sends them, as `engram serve` does). `tokens` holds each generated
  token's text; `top_logprobs` the `options.top_logprobs` most likely alternatives.
- `hidden` where `capabilities.hidden_states` and `options.capture_layer` is set: a
  float32 array [n_generated_tokens, hidden_size] of the output of decoder layer
  `capture_layer` (0-based; negative counts from the end). That is transformers'
  `hidden_states[L + 1]`, except for the last layer, whose output here is taken before
  the final norm. Row i is the state at the position that predicted token i, so rows
  align with `logprobs` and `entropies`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.types import ChatMessage, TokenUsage, ToolCall, ToolSpec


class BackendError(RuntimeError):
    """The backend could not produce a generation (server down, model missing, …)."""

    user_facing = True


@dataclass(frozen=True)
class BackendCapabilities:
    native_tools: bool = False
    logprobs: bool = False
    hidden_states: bool = False
    training: bool = False
    constrained: bool = False  # grammar / JSON-schema constrained decoding
    adapters: bool = False
    prefill: bool = False  # GenerationOptions.prefix: a forced start of the reply
    scoring: bool = False  # CompletionScorer.score: logprobs of a given reply


@dataclass
class GenerationOptions:
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 384
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    grammar: str | None = None  # GBNF, for backends with `constrained`
    json_schema: dict[str, Any] | None = None
    capture_layer: int | None = None  # hidden states of this layer for the generated tokens
    # Token-level penalties (loop guards): token id -> additive logit bias.
    logit_bias: dict[int, float] = field(default_factory=dict)
    top_logprobs: int = 0  # alternatives per position to return in Generation.top_logprobs
    prefix: str = ""  # prefill: the reply starts with this text (see the contract above)


@dataclass
class Generation:
    text: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    finish_reason: str = "stop"  # stop | length | tool_calls
    token_ids: list[int] | None = None
    tokens: list[str] | None = None  # each generated token's text, aligned with logprobs
    logprobs: list[float] | None = None
    top_logprobs: list[list[tuple[str, float]]] | None = None
    entropies: list[float] | None = None
    hidden: Any | None = None  # numpy float32 [n_generated, hidden_size]
    hidden_layer: int | None = None
    seconds: float = 0.0
    prefill_seconds: float = 0.0


@runtime_checkable
class LLMBackend(Protocol):
    name: str
    model_id: str
    capabilities: BackendCapabilities

    def generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
    ) -> Generation: ...

    def count_tokens(self, messages: list[ChatMessage]) -> int: ...

    def load_adapter(self, name: str, path: Path) -> None: ...

    def unload_adapter(self, name: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class CompletionScorer(Protocol):
    """Backends that score a given reply (`capabilities.scoring`).

    `score` returns a Generation for `reply` as if the model had generated exactly it
    after `messages`: `text` is `reply`; `token_ids`, `tokens`, `logprobs`, `entropies`
    and (with `top_logprobs`) `top_logprobs` cover every token of it, from the raw
    distribution (no temperature, no bias). Nothing is sampled; `usage.completion_tokens`
    is the reply's length in tokens.
    """

    def score(
        self,
        messages: list[ChatMessage],
        reply: str,
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        top_logprobs: int = 0,
    ) -> Generation: ...
