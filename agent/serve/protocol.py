"""The OpenAI wire format as `engram serve` reads and writes it.

Requests are validated with pydantic; anything wrong becomes an OpenAI-shaped error
body (`{"error": {"message", "type", "param", "code"}}`) with a 4xx status. Fields of
the OpenAI API that engram does not implement are ignored when harmless (`user`,
`frequency_penalty` = 0, …) and refused with a 400 when ignoring them would change
the answer (`n` > 1, forced tool choice, JSON response formats).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agent.backends.base import Generation


class ApiError(Exception):
    """An error to send back as an OpenAI error object."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


class _Request(BaseModel):
    # Unknown fields are ignored, as OpenAI-compatible servers commonly do: clients send
    # vendor extras (`user`, `metadata`, …) that do not change the completion.
    model_config = ConfigDict(extra="ignore")


class ChatRequest(_Request):
    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    logit_bias: dict[str, float] | None = None
    n: int = Field(default=1, ge=1)
    response_format: dict[str, Any] | None = None
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 16:
            raise ValueError("at most 16 stop sequences")
        return value

    @field_validator("tools")
    @classmethod
    def _tools_shape(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        for i, tool in enumerate(value or []):
            fn = tool.get("function")
            if tool.get("type") != "function" or not isinstance(fn, dict):
                raise ValueError(f"tools[{i}] must be {{'type': 'function', 'function': {{…}}}}")
            if not isinstance(fn.get("name"), str) or not fn["name"]:
                raise ValueError(f"tools[{i}].function.name is required")
        return value

    def unsupported(self) -> ApiError | None:
        """What this server cannot do faithfully, as a 400 (None: all fine)."""
        if self.n != 1:
            return ApiError(400, "n > 1 is not supported by engram serve", param="n")
        if isinstance(self.tool_choice, dict) or self.tool_choice == "required":
            return ApiError(
                400,
                "forcing a tool call (tool_choice 'required' or a named function) needs "
                "constrained decoding, which engram serve does not do; use 'auto' or 'none'",
                param="tool_choice",
            )
        if self.tool_choice not in (None, "auto", "none"):
            return ApiError(400, f"unknown tool_choice {self.tool_choice!r}", param="tool_choice")
        if self.response_format and self.response_format.get("type") not in (None, "text"):
            return ApiError(
                400, "only response_format {'type': 'text'} is supported", param="response_format"
            )
        if self.presence_penalty or self.frequency_penalty:
            return ApiError(
                400, "presence/frequency penalties are not supported", param="frequency_penalty"
            )
        if self.top_logprobs and not self.logprobs:
            return ApiError(400, "top_logprobs needs logprobs: true", param="top_logprobs")
        return None

    def stop_list(self) -> list[str]:
        if self.stop is None:
            return []
        return [self.stop] if isinstance(self.stop, str) else list(self.stop)

    def bias(self, vocab_size: int) -> dict[int, float]:
        out: dict[int, float] = {}
        for key, value in (self.logit_bias or {}).items():
            try:
                token = int(key)
            except ValueError:
                raise ApiError(
                    400, f"logit_bias key {key!r} is not a token id", param="logit_bias"
                ) from None
            if not 0 <= token < vocab_size:
                raise ApiError(
                    400,
                    f"logit_bias token id {token} is outside the vocabulary",
                    param="logit_bias",
                )
            if not -100 <= value <= 100:
                raise ApiError(400, "logit_bias values must lie in [-100, 100]", param="logit_bias")
            out[token] = value
        return out


class LoadAdapterRequest(_Request):
    lora_name: str = ""
    lora_path: str = ""
    load_inplace: bool = False


class UnloadAdapterRequest(_Request):
    lora_name: str = ""


class TokenizeRequest(_Request):
    model: str | None = None
    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    tools: list[dict[str, Any]] | None = None
    add_generation_prompt: bool = True


def parse(model: type[BaseModel], body: Any) -> Any:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        problems = f"{where}: {message}" if where else message
        if len(exc.errors()) > 1:
            problems += f" (and {len(exc.errors()) - 1} more problem(s))"
        raise ApiError(400, problems, param=where) from None


# ---------------------------------------------------------------------- responses


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex


def _token_entry(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def logprobs_content(gen: Generation, top: int) -> list[dict[str, Any]]:
    """OpenAI's `logprobs.content`, plus `entropy` per token (an engram extension that
    the `openai` backend reads; other clients ignore it)."""
    items = []
    for i, (token, logprob) in enumerate(zip(gen.tokens or [], gen.logprobs or [], strict=False)):
        entry = _token_entry(token, logprob)
        alternatives = (gen.top_logprobs or [])[i] if top and gen.top_logprobs else []
        entry["top_logprobs"] = [_token_entry(t, lp) for t, lp in alternatives[:top]]
        if gen.entropies is not None and i < len(gen.entropies):
            entry["entropy"] = gen.entropies[i]
        items.append(entry)
    return items


def tool_call_objects(calls: list[Any]) -> list[dict[str, Any]]:
    import json

    return [
        {
            "id": call.id,
            "type": "function",
            "function": {
                "name": call.name,
                "arguments": json.dumps(call.arguments, ensure_ascii=False),
            },
        }
        for call in calls
    ]


def usage_object(gen: Generation) -> dict[str, int]:
    return {
        "prompt_tokens": gen.usage.prompt_tokens,
        "completion_tokens": gen.usage.completion_tokens,
        "total_tokens": gen.usage.total,
    }


def chunk(
    cid: str, model: str, created: int, delta: dict[str, Any], **choice: Any
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None, **choice}
        ],
    }


def now() -> int:
    return int(time.time())
