"""Every tool described once (ToolSpec), rendered both ways; the parser re-exported.

- Native: OpenAI-style `tools=[{"type": "function", "function": {...}}]` schemas, for
  models that make tool calls.
- Text, for small models: a short thought, then ONE fenced block whose info string is
  the tool name; `key: value` lines first, then the tool's body (a command, a file's
  content, a SEARCH/REPLACE edit) verbatim. The rendered instructions carry concrete
  examples only: a small model executes a placeholder such as FILE literally.

The parser (tools.replies) returns a `ParsedAction` (a ToolCall, the thought, notes
for the model such as "only the first of two actions ran") or a `FormatError` whose
message tells the model exactly how to write the action instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tools.calls import ActionFormat, render_text_call
from tools.names import suggest_tool, unknown_tool_text
from tools.replies import (
    FormatError,
    ParsedAction,
    ParsedReply,
    parse_action,
    parse_native,
    parse_reply,
)
from tools.types import ToolSpec

if TYPE_CHECKING:
    from tools.examples import ToolExamples

__all__ = [
    "FormatError",
    "ParsedAction",
    "ParsedReply",
    "native_schema",
    "native_tools",
    "parse_action",
    "parse_native",
    "parse_reply",
    "render_protocol",
    "suggest_tool",
    "unknown_tool_text",
]


def native_schema(spec: ToolSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for param in spec.params:
        prop: dict[str, Any] = {"type": param.type, "description": param.description}
        if param.enum:
            prop["enum"] = list(param.enum)
        properties[param.name] = prop
    description = spec.summary + (f" {spec.description}" if spec.description else "")
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": [p.name for p in spec.params if p.required],
                "additionalProperties": False,
            },
        },
    }


def native_tools(specs: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    return [native_schema(spec) for spec in specs]


_TEXT_INTRO = """\
How to act: end every reply with exactly one action: a fenced block that opens with three
backticks and a tool name, then `key: value` lines, then the body if the tool takes one.
You get the result, then you reply again. """
_SAMPLE_SOURCE = """\
The examples below come from a sample project
(ledger); use your repository's own paths."""
_REPO_SOURCE = """\
The examples below use this repository's own
files; they show the format, not what to change."""
# The built-in sample reply (tools.examples gives one with the repository's own names).
_SAMPLE_TOPIC = "a task about adding money"
_SAMPLE_THOUGHT = "I will read Money.__add__ first."

_RULES = """\
Rules: one action per reply. In an edit, the SEARCH lines must match the file exactly
(indentation included; copy them from view, without the line numbers) and occur only once."""

_NATIVE_INTRO = """\
How to act: call exactly one tool per reply. You get its result, then you reply again."""


def _keys_line(spec: ToolSpec) -> str:
    """`Keys: path, start (optional). Body: the command.` for one tool."""
    keys = []
    body = ""
    for param in spec.params:
        if spec.body_format == "search_replace" and param.name in ("old", "new"):
            continue
        if param.name == spec.body_param:
            optional = " (optional)" if not param.required else ""
            body = f"Body{optional}: {param.description}."
            continue
        keys.append(param.name + ("" if param.required else " (optional)"))
    if spec.body_format == "search_replace":
        body = "Body: SEARCH with the exact current lines, REPLACE with the new lines."
    parts = ([f"Keys: {', '.join(keys)}."] if keys else []) + ([body] if body else [])
    return " ".join(parts)


def render_protocol(
    specs: Sequence[ToolSpec], fmt: ActionFormat = "text", examples: ToolExamples | None = None
) -> str:
    """The tools section of the system prompt: short, one concrete example per tool.

    `specs` carry the examples shown; with `examples` (tools.examples, the repository's
    own names, already applied to `specs`) the intro and the sample reply say so."""
    if fmt == "native":
        lines = [_NATIVE_INTRO, ""]
        lines += [f"- {spec.name}: {spec.summary}" for spec in specs]
        return "\n".join(lines) + "\n"
    if examples is None:
        source, topic, thought = _SAMPLE_SOURCE, _SAMPLE_TOPIC, _SAMPLE_THOUGHT
    else:
        source, topic, thought = _REPO_SOURCE, examples.topic, examples.thought
    out = [_TEXT_INTRO + source]
    for spec in specs:
        out.append("")
        out.append(f"{spec.name}: {spec.summary} {_keys_line(spec)}".rstrip())
        if spec.examples:
            out.append(render_text_call(spec, spec.examples[0]))
    out.append("")
    if any(s.name == "edit" for s in specs):
        out.append(_RULES)
    else:
        out.append("Rules: one action per reply.")
    view = next((s for s in specs if s.name == "view"), None)
    if view is not None and view.examples:
        # Measured with the 0.5B model (docs/tools.md): introduced this way, the example
        # reply is followed through to its action; shown bare as "a whole reply", the
        # model copied its first sentence and stopped.
        out.append("")
        out.append(f"For example, a reply to {topic} could be:")
        out.append("")
        out.append(thought)
        out.append(render_text_call(view, view.examples[0]))
    return "\n".join(out).rstrip() + "\n"
