"""Chat completion responses (whole or streamed) → Generation.

Servers differ in small ways (vLLM, OpenAI, `engram serve`); this reads what they
agree on and keeps what the model said even when it is malformed: a tool call whose
arguments are not JSON stays visible in the text instead of disappearing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agent.backends.base import BackendError, Generation
from agent.types import TokenUsage, ToolCall

_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


def from_response(data: Any, server: str) -> Generation:
    """A non-streamed `chat.completion` object."""
    if not isinstance(data, dict) or not data.get("choices"):
        raise BackendError(f"{server} answered without choices: {str(data)[:300]}")
    choice = data["choices"][0]
    message = choice.get("message") or {}
    return assemble(
        content=message.get("content") or "",
        raw_calls=message.get("tool_calls") or [],
        finish=choice.get("finish_reason"),
        logprob_items=(choice.get("logprobs") or {}).get("content"),
        usage=data.get("usage"),
    )


class StreamAccumulator:
    """Collects `chat.completion.chunk` events; tool call deltas are joined by index."""

    def __init__(self, server: str):
        self.server = server
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.items: list[dict[str, Any]] = []
        self.finish: str | None = None
        self.usage: dict[str, Any] | None = None
        self.first_output_at: float | None = None

    def add_line(self, line: str) -> bool:
        """Feed one SSE line; False once the stream says it is done."""
        if not line.startswith("data:"):
            return True
        body = line[5:].strip()
        if body == "[DONE]":
            return False
        try:
            chunk = json.loads(body)
        except json.JSONDecodeError as exc:
            raise BackendError(f"malformed stream chunk from {self.server}: {body[:200]}") from exc
        if "error" in chunk:
            raise BackendError(f"server error mid-stream: {message_of(chunk)}")
        self.usage = chunk.get("usage") or self.usage
        for choice in chunk.get("choices") or []:
            self._add_choice(choice)
        return True

    def _add_choice(self, choice: dict[str, Any]) -> None:
        delta = choice.get("delta") or {}
        if (delta.get("content") or delta.get("tool_calls")) and self.first_output_at is None:
            self.first_output_at = time.perf_counter()
        if delta.get("content"):
            self.content.append(delta["content"])
        for part in delta.get("tool_calls") or []:
            slot = self.calls.setdefault(int(part.get("index", 0)), {"function": {"arguments": ""}})
            slot["id"] = part.get("id") or slot.get("id")
            fn = part.get("function") or {}
            if fn.get("name"):
                slot["function"]["name"] = fn["name"]
            slot["function"]["arguments"] += fn.get("arguments") or ""
        self.items.extend((choice.get("logprobs") or {}).get("content") or [])
        self.finish = choice.get("finish_reason") or self.finish

    def result(self) -> Generation:
        return assemble(
            content="".join(self.content),
            raw_calls=[self.calls[i] for i in sorted(self.calls)],
            finish=self.finish,
            logprob_items=self.items or None,
            usage=self.usage,
        )


def assemble(
    content: str,
    raw_calls: list[dict[str, Any]],
    finish: str | None,
    logprob_items: list[dict[str, Any]] | None,
    usage: dict[str, Any] | None,
) -> Generation:
    calls: list[ToolCall] = []
    text = content
    for raw in raw_calls:
        fn = raw.get("function") or {}
        args = fn.get("arguments") or "{}"
        try:
            parsed = json.loads(args) if isinstance(args, str) else args
        except json.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict) or not fn.get("name"):
            # What the model said is never dropped: an unusable call stays visible as text.
            text += f'\n<tool_call>\n{{"name": {json.dumps(fn.get("name"))}, "arguments": {args}}}\n</tool_call>'
            continue
        calls.append(ToolCall(name=fn["name"], arguments=parsed, id=raw.get("id")))
    gen = Generation(
        text=text,
        tool_calls=calls,
        finish_reason="tool_calls" if calls else _FINISH.get(finish or "stop", "stop"),
    )
    if usage:
        gen.usage = TokenUsage(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    if logprob_items:
        gen.tokens = [str(i.get("token", "")) for i in logprob_items]
        gen.logprobs = [float(i.get("logprob", 0.0)) for i in logprob_items]
        if any(i.get("top_logprobs") for i in logprob_items):
            gen.top_logprobs = [
                [
                    (str(t.get("token", "")), float(t.get("logprob", 0.0)))
                    for t in i.get("top_logprobs") or []
                ]
                for i in logprob_items
            ]
        # `entropy` is an engram serve extension; other servers do not send it, and an
        # estimate from the top few logprobs would not be the same quantity.
        if all("entropy" in i for i in logprob_items):
            gen.entropies = [float(i["entropy"]) for i in logprob_items]
    return gen


def message_of(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err)[:500]
        return str(err)[:500]
    return str(body)[:500]
