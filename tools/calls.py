"""One tool call written out the way the model should write it.

Used for the examples in the protocol text and in every "wrong arguments" message,
so a model that erred sees the exact form to copy, in the format it is using: a
fenced block for the text protocol, a JSON call for native tool calling.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from tools.types import ToolSpec

ActionFormat = Literal["text", "native"]

SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER_MARK = "======="
REPLACE_MARK = ">>>>>>> REPLACE"


def _fence_for(body: str) -> str:
    """Three backticks, or one more than the longest run inside the body."""
    longest = 0
    run = 0
    for char in body:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_text_call(spec: ToolSpec, args: dict[str, Any]) -> str:
    """`args` as a fenced block of the text protocol."""
    header: list[str] = []
    body = ""
    body_keys: set[str] = set()
    if spec.body_format == "search_replace":
        body_keys = {"old", "new"}
        old = str(args.get("old", "")).rstrip("\n")
        new = str(args.get("new", "")).rstrip("\n")
        body = f"{SEARCH_MARK}\n{old}\n{DIVIDER_MARK}\n{new}\n{REPLACE_MARK}"
    elif spec.body_param and args.get(spec.body_param) is not None:
        body_keys = {spec.body_param}
        body = str(args[spec.body_param]).rstrip("\n")
    for param in spec.params:
        if param.name in args and param.name not in body_keys:
            header.append(f"{param.name}: {_value(args[param.name])}")
    content = "\n".join([*header, *([body] if body else [])])
    fence = _fence_for(content)
    return f"{fence}{spec.name}\n{content}\n{fence}" if content else f"{fence}{spec.name}\n{fence}"


def render_native_call(spec: ToolSpec, args: dict[str, Any]) -> str:
    return json.dumps({"name": spec.name, "arguments": args}, ensure_ascii=False)


def render_call(spec: ToolSpec, args: dict[str, Any], fmt: ActionFormat = "text") -> str:
    return render_native_call(spec, args) if fmt == "native" else render_text_call(spec, args)


def usage(spec: ToolSpec, fmt: ActionFormat = "text") -> str:
    """A short usage note: parameters, then one concrete example."""
    lines = [f"{spec.name}: {spec.summary}"]
    for param in spec.params:
        where = ""
        if fmt == "text" and spec.body_format == "search_replace" and param.name in ("old", "new"):
            where = ", in the SEARCH/REPLACE body"
        elif fmt == "text" and param.name == spec.body_param:
            where = ", the block's body"
        need = "required" if param.required else "optional"
        lines.append(f"- {param.name} ({param.type}, {need}{where}): {param.description}")
    if spec.examples:
        lines.append("Example:")
        lines.append(render_call(spec, spec.examples[0], fmt))
    return "\n".join(lines)
