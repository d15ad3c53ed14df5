"""Native tool calls: ToolSpec → OpenAI function schema, and `<tool_call>` blocks → ToolCall.

Qwen2.5 (and other Hermes-style chat templates) render the offered tools into the
system prompt and expect the model to answer with blocks like

    <tool_call>
    {"name": "read_file", "arguments": {"path": "setup.py"}}
    </tool_call>

`parse_tool_calls` finds those blocks in generated text. It never raises for what the
model wrote: a block whose JSON does not parse, or that lacks a name, is reported in
`ParsedToolCalls.malformed` and left as plain text, so the agent can show the model
what went wrong. A final block without its closing tag (generation stopped right after
the JSON) is accepted when its JSON is complete.

Small models often drop the tags: the embedded 0.5B Qwen answers a tool request with the
bare object `{"name": "read_file", "arguments": {...}}`. When the caller says which tools
were offered, a reply that consists of nothing but such an object (or a list of them),
optionally in a ```json fence, naming an offered tool, counts as a call too. Anything
less exact stays text: JSON the user asked for must not turn into an action.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from agent.types import ToolCall, ToolSpec

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
# ToolSpecs, or OpenAI tool schemas as dicts (what clients of `engram serve` send).
ToolList = list[ToolSpec | dict[str, Any]]

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"\A```(?:json)?\s*\n(.*?)\n?```\Z", re.DOTALL)


def tool_schema(spec: ToolSpec) -> dict[str, Any]:
    """The OpenAI `tools` entry for one tool (what chat templates and servers expect)."""
    properties: dict[str, Any] = {}
    for param in spec.params:
        prop: dict[str, Any] = {"type": param.type, "description": param.description}
        if param.enum:
            prop["enum"] = list(param.enum)
        properties[param.name] = prop
    description = spec.summary
    if spec.description:
        description = f"{spec.summary}\n\n{spec.description}"
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": [p.name for p in spec.params if p.required],
            },
        },
    }


def tool_schemas(specs: ToolList | None) -> list[dict[str, Any]] | None:
    """Schemas for `specs`; a dict is taken as an OpenAI tool schema already (serve passes
    clients' schemas through untouched, nested parameters and all)."""
    return [s if isinstance(s, dict) else tool_schema(s) for s in specs] if specs else None


def tool_names(specs: ToolList | None) -> set[str]:
    names = set()
    for spec in specs or []:
        if isinstance(spec, dict):
            names.add(str((spec.get("function") or {}).get("name")))
        else:
            names.add(spec.name)
    return names


def new_call_id() -> str:
    # OpenAI-style opaque ids; random so that equal calls in different turns stay distinct.
    return "call_" + uuid.uuid4().hex[:24]


@dataclass
class ParsedToolCalls:
    calls: list[ToolCall] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)  # text spans of parsed blocks
    malformed: list[str] = field(default_factory=list)  # why each bad block was rejected

    def content(self, text: str) -> str:
        """The text outside the parsed blocks (what OpenAI servers return as `content`)."""
        pieces, pos = [], 0
        for start, end in self.spans:
            pieces.append(text[pos:start])
            pos = end
        pieces.append(text[pos:])
        return "".join(pieces)


def _decode_call(body: str) -> tuple[ToolCall | None, str]:
    body = body.strip()
    if not body:
        return None, "empty <tool_call> block"
    try:
        # raw_decode tolerates trailing junk after the object (a stray brace, a newline).
        obj, _ = json.JSONDecoder().raw_decode(body)
    except json.JSONDecodeError as exc:
        return None, f"tool call is not valid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(obj, dict):
        return None, "tool call JSON is not an object"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None, 'tool call has no "name"'
    args = obj.get("arguments", obj.get("parameters", {}))
    if isinstance(args, str):
        # Some models emit the arguments as a JSON-encoded string, as the OpenAI wire does.
        try:
            args = json.loads(args) if args.strip() else {}
        except json.JSONDecodeError:
            return None, f"arguments of {name!r} are a string that is not JSON"
    if args is None:
        args = {}
    if not isinstance(args, dict):
        return None, f"arguments of {name!r} are not an object"
    return ToolCall(name=name, arguments=args, id=new_call_id()), ""


def _bare_calls(text: str, tool_names: set[str]) -> ParsedToolCalls:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith(("{", "[")):
        return ParsedToolCalls()
    try:
        obj = json.loads(body)
    except json.JSONDecodeError:
        return ParsedToolCalls()
    items = obj if isinstance(obj, list) else [obj]
    calls = []
    for item in items:
        if not isinstance(item, dict) or item.get("name") not in tool_names:
            return ParsedToolCalls()
        if not set(item) <= {"name", "arguments", "parameters"}:
            return ParsedToolCalls()
        call, _ = _decode_call(json.dumps(item))
        if call is None:
            return ParsedToolCalls()
        calls.append(call)
    return ParsedToolCalls(calls=calls, spans=[(0, len(text))] if calls else [])


def parse_tool_calls(text: str, tool_names: set[str] | None = None) -> ParsedToolCalls:
    """Every well-formed `<tool_call>` block in `text`, in order; with `tool_names`, also
    a reply that is only a bare call object naming one of those tools."""
    parsed = ParsedToolCalls()
    if OPEN_TAG not in text:
        return _bare_calls(text, tool_names) if tool_names else parsed
    for match in _BLOCK.finditer(text):
        call, problem = _decode_call(match.group(1))
        if call is None:
            parsed.malformed.append(problem)
            continue
        parsed.calls.append(call)
        parsed.spans.append(match.span())
    return parsed
