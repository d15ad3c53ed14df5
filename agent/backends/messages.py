"""ChatMessage ↔ the OpenAI chat wire format (also what Hugging Face chat templates take).

`to_openai` is used twice: by the `hf` backend to feed the model's chat template (tool
call arguments as objects, which Qwen's template serialises itself) and by the `openai`
backend for the HTTP request (arguments as JSON strings, as the API requires).
`from_openai` is the reverse, for `engram serve`; it raises `ValueError` with a message
fit for a 400 response.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from agent.types import ChatMessage, ToolCall


def _assign_call_ids(messages: list[ChatMessage]) -> dict[tuple[int, int], str]:
    """Ids for tool calls that have none, and the pairing of id-less tool results.

    OpenAI requires every `tool` message to name the call it answers. The agent may not
    track ids (the text protocol has none), so calls get positional ids and each
    id-less tool message takes the next unanswered call of the preceding assistant turn.
    """
    ids: dict[tuple[int, int], str] = {}
    for i, msg in enumerate(messages):
        for k, call in enumerate(msg.tool_calls or []):
            ids[(i, k)] = call.id or f"call_{i}_{k}"
    return ids


def to_openai(
    messages: list[ChatMessage], arguments: Literal["string", "object"] = "string"
) -> list[dict[str, Any]]:
    ids = _assign_call_ids(messages)
    pending: list[str] = []
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        item: dict[str, Any] = {"role": msg.role, "content": msg.content}
        if msg.role == "assistant" and msg.tool_calls:
            pending = []
            calls = []
            for k, call in enumerate(msg.tool_calls):
                call_id = ids[(i, k)]
                pending.append(call_id)
                args: Any = call.arguments
                if arguments == "string":
                    args = json.dumps(call.arguments, ensure_ascii=False)
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": args},
                    }
                )
            item["tool_calls"] = calls
        elif msg.role == "tool":
            call_id = msg.tool_call_id or (pending.pop(0) if pending else f"call_{i}")
            if msg.tool_call_id in pending:
                pending.remove(msg.tool_call_id)
            item["tool_call_id"] = call_id
            if msg.name:
                item["name"] = msg.name
        elif msg.name:
            item["name"] = msg.name
        out.append(item)
    return out


def _text_content(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ValueError(
                    f"messages[{index}].content: only text parts are supported, got {kind!r}"
                )
            parts.append(str(part.get("text", "")))
        return "".join(parts)
    raise ValueError(f"messages[{index}].content must be a string or a list of text parts")


def from_openai(raw: list[dict[str, Any]]) -> list[ChatMessage]:
    messages: list[ChatMessage] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"messages[{i}] must be an object")
        role = item.get("role")
        if role == "developer":  # newer OpenAI name for the system role
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            raise ValueError(
                f"messages[{i}].role {role!r} is not one of system, user, assistant, tool"
            )
        calls = None
        if item.get("tool_calls"):
            calls = []
            for k, call in enumerate(item["tool_calls"]):
                fn = call.get("function") if isinstance(call, dict) else None
                if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                    raise ValueError(f"messages[{i}].tool_calls[{k}] needs function.name")
                args = fn.get("arguments") or {}
                if isinstance(args, str):
                    try:
                        args = json.loads(args) if args.strip() else {}
                    except json.JSONDecodeError as exc:
                        raise ValueError(
                            f"messages[{i}].tool_calls[{k}].function.arguments is not JSON: {exc.msg}"
                        ) from exc
                if not isinstance(args, dict):
                    raise ValueError(
                        f"messages[{i}].tool_calls[{k}].function.arguments must be an object"
                    )
                calls.append(ToolCall(name=fn["name"], arguments=args, id=call.get("id")))
        messages.append(
            ChatMessage(
                role=role,
                content=_text_content(item.get("content"), i),
                tool_calls=calls,
                tool_call_id=item.get("tool_call_id"),
                name=item.get("name"),
            )
        )
    return messages
