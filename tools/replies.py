"""The text protocol's parser: a model's reply → one ToolCall, or a FormatError.

The protocol (rendered by tools.protocol): a short thought, then ONE fenced block
whose info string is the tool name; `key: value` (or `key=value`) lines first, then
the tool's body verbatim — for edit, a SEARCH/REPLACE block that fills `old`/`new`.

Forgiven: a missing closing fence, CRLF, info-string case and spaces, indented
blocks, `sh`/`console` for bash, a path on the opening line (```view src/x.py) or
in the body of a block without key lines, aider-style edits (file name on the line
above a ```python fence holding SEARCH/REPLACE), Qwen's `<tool_call>` JSON, console
`$ ` prompts. Refused with a message written for the model: no block, a plain code
block (it says exactly how to write an edit instead), an unknown tool (it lists the
tools and suggests the likely one), an edit without its ======= divider, and a
create/edit cut off by the token limit. Several action blocks: the first runs and a
note says so. The parser never raises on model text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.base import canonical_name
from tools.calls import render_text_call
from tools.fences import Block, find_blocks, normalize, text_before
from tools.names import LANGUAGES, SHELL_NAMES, suggest_tool, unknown_tool_text
from tools.types import ToolCall, ToolSpec

_KEY_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z_][\w-]*)\s*(?P<sep>[:=])[ \t]*(?P<value>.*?)\s*$")
_SEARCH = re.compile(r"^\s*<{5,}\s*SEARCH\b.*$", re.I)
_DIVIDER = re.compile(r"^\s*={5,}\s*$")
_REPLACE = re.compile(r"^\s*>{5,}\s*REPLACE\b.*$", re.I)
_PATH_LIKE = re.compile(r"^[\w.\-/]+\.\w+$")
_TOOL_CALL = re.compile(r"<tool_call>\s*(?P<json>\{.*?\})\s*(?:</tool_call>|$)", re.S)


@dataclass(frozen=True)
class ParsedAction:
    call: ToolCall
    thought: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class FormatError:
    message: str
    thought: str = ""
    kind: str = "format_error"


@dataclass
class ParsedReply:
    """The graph's view of a reply: a thought, and an action or a format error."""

    thought: str
    action: ToolCall | None
    format_error: str | None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Candidate:
    block: Block
    kind: str  # action | code | unknown
    name: str = ""
    info_rest: str = ""


def _classify(block: Block, specs: dict[str, ToolSpec]) -> _Candidate:
    word, _, rest = block.info.partition(" ")
    word = word.strip().strip(":{}[]()").lower()
    rest = rest.strip()
    if word in SHELL_NAMES and "bash" in specs:
        word = "bash"
    if word in specs:
        return _Candidate(block, "action", word, rest)
    if block.one_line:
        return _Candidate(block, "unknown", word, rest)
    if "edit" in specs and any(_SEARCH.match(line) for line in block.body.split("\n")):
        return _Candidate(block, "action", "edit", "")
    if not word:
        first, _, remainder = block.body.lstrip("\n").partition("\n")
        head, _, tail = first.strip().partition(" ")
        if head.lower() in specs:
            inner = Block(
                first.strip(), remainder, block.start, block.end, block.closed, block.before
            )
            return _Candidate(inner, "action", head.lower(), tail.strip())
        return _Candidate(block, "code", "")
    if word in LANGUAGES:
        return _Candidate(block, "code", word)
    return _Candidate(block, "unknown", word)


def _clean_value(value: str) -> str:
    value = value.strip()
    for quote in ('"', "'", "`"):
        if len(value) >= 2 and value[0] == quote and value[-1] == quote:
            return value[1:-1]
    return value


def _positional(spec: ToolSpec, words: list[str], args: dict[str, Any]) -> list[str]:
    """Fill the spec's non-body parameters in order from bare words; returns leftovers."""
    body_keys = {spec.body_param} if spec.body_param else set()
    if spec.body_format == "search_replace":
        body_keys |= {"old", "new"}
    free = [p.name for p in spec.params if p.name not in args and p.name not in body_keys]
    left: list[str] = []
    for word in words:
        if free:
            args[free.pop(0)] = _clean_value(word)
        else:
            left.append(word)
    return left


def _info_args(spec: ToolSpec, rest: str, args: dict[str, Any]) -> None:
    """`path: x` / `path=x` / bare words after the tool name on the opening line."""
    if not rest:
        return
    pairs = re.findall(r"([A-Za-z_][\w-]*)\s*[:=]\s*(\"[^\"]*\"|'[^']*'|\S+)", rest)
    known = [(canonical_name(spec, k), v) for k, v in pairs]
    if pairs and all(name for name, _ in known):
        for name, value in known:
            args[str(name)] = _clean_value(value)
        return
    _positional(spec, rest.split(), args)


def _header(spec: ToolSpec, lines: list[str], args: dict[str, Any]) -> int:
    """Read `key: value` lines from the top; returns the index of the first body line."""
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    start = index
    while index < len(lines):
        match = _KEY_VALUE.match(lines[index])
        if not match:
            break
        name = canonical_name(spec, match["key"])
        if name is None or name in args:
            break
        value = match["value"]
        if match["sep"] == "=" and re.search(r"\s", _clean_value(value)) and value[:1] not in "\"'":
            break  # `FOO=1 python x.py` is a command, not a parameter
        args[name] = _clean_value(value)
        index += 1
    return index if index > start else 0


def _search_replace(
    spec: ToolSpec,
    lines: list[str],
    args: dict[str, Any],
    block: Block,
    finished: bool,
    notes: list[str],
) -> FormatError | None:
    starts = [i for i, line in enumerate(lines) if _SEARCH.match(line)]
    if not starts:
        if "old" in args and "new" in args:
            return None
        return FormatError(
            "An edit needs the old and the new text in a SEARCH/REPLACE body, like this:\n"
            + _example(spec)
        )
    first = starts[0]
    if "path" not in args:
        loose = [ln.strip().strip("`*:") for ln in lines[:first] if ln.strip()]
        if len(loose) == 1 and _PATH_LIKE.match(loose[0]):
            args["path"] = loose[0]
    divider = next((i for i in range(first + 1, len(lines)) if _DIVIDER.match(lines[i])), None)
    if divider is None:
        return FormatError(
            "The edit has no ======= line between the SEARCH text and the REPLACE text. "
            "Write it like this:\n" + _example(spec)
        )
    end = next((i for i in range(divider + 1, len(lines)) if _REPLACE.match(lines[i])), None)
    if end is None:
        if not block.closed and not finished:
            return FormatError(
                "Your reply was cut off in the middle of the edit (it has no >>>>>>> REPLACE "
                "line), so nothing was changed. Make a smaller edit: SEARCH only the lines "
                "that change, plus one line of context."
            )
        end = len(lines)
        while end > divider + 1 and not lines[end - 1].strip():
            end -= 1
        notes.append("The edit had no >>>>>>> REPLACE line; the rest of the block was used.")
    args["old"] = "\n".join(lines[first + 1 : divider])
    args["new"] = "\n".join(lines[divider + 1 : end])
    if any(i > end for i in starts):
        notes.append(
            "Only the first SEARCH/REPLACE pair was applied; send each further change as its "
            "own edit."
        )
    return None


def _example(spec: ToolSpec) -> str:
    return render_text_call(spec, spec.examples[0]) if spec.examples else f"```{spec.name}\n```"


def _block_args(
    spec: ToolSpec, candidate: _Candidate, finished: bool, notes: list[str]
) -> dict[str, Any] | FormatError:
    block = candidate.block
    args: dict[str, Any] = {}
    if block.one_line:
        if spec.body_param and candidate.info_rest:
            args[spec.body_param] = candidate.info_rest
        else:
            _info_args(spec, candidate.info_rest, args)
        return args
    _info_args(spec, candidate.info_rest, args)
    above = block.before.strip("`*: ").removeprefix("File: ")
    if spec.body_format == "search_replace" and "path" not in args and _PATH_LIKE.match(above):
        args["path"] = above  # aider style: the file name on the line above the fence
    lines = block.body.split("\n")
    body_at = _header(spec, lines, args)
    body_lines = lines[body_at:]
    if spec.body_format == "search_replace":
        error = _search_replace(spec, body_lines, args, block, finished, notes)
        return error or args
    body = "\n".join(body_lines)
    if spec.body_param:
        if spec.name == "bash":
            body = _strip_prompts(body)
        if spec.name == "create":
            # A file's last line ends with a newline; the block cannot show it.
            body = body.lstrip("\n").rstrip() + "\n" if body.strip() else ""
        else:
            body = body.strip("\n")
        if body.strip():
            if spec.body_param in args:
                args[spec.body_param] = f"{args[spec.body_param]}\n{body}"
            else:
                args[spec.body_param] = body
        if spec.name == "create" and not block.closed and not finished:
            return FormatError(
                "Your reply was cut off before the end of the file's content, so nothing was "
                "written. Create a shorter file first, then add to it with edit."
            )
        return args
    leftover = [line.strip() for line in body_lines if line.strip()]
    if leftover and len(leftover) == 1 and not _positional(spec, leftover[0].split(), args):
        return args
    if leftover:
        return FormatError(
            f"The {spec.name} block has lines it does not understand ({leftover[0]!r}). "
            f"Write one `key: value` line per parameter, like this:\n{_example(spec)}"
        )
    return args


def _strip_prompts(body: str) -> str:
    """`$ cmd` lines (a console transcript) → the commands alone."""
    lines = body.split("\n")
    first = next((ln for ln in lines if ln.strip()), "")
    if not first.lstrip().startswith("$ "):
        return body
    return "\n".join(ln.lstrip()[2:] for ln in lines if ln.lstrip().startswith("$ "))


def _json_call(text: str, specs: dict[str, ToolSpec]) -> ToolCall | None:
    """A `<tool_call>{"name": …, "arguments": …}</tool_call>` or bare JSON call."""
    payloads = [m["json"] for m in _TOOL_CALL.finditer(text)]
    payloads += [b.body for b in find_blocks(text) if b.info.lower() in ("json", "")]
    for payload in payloads:
        try:
            data = json.loads(payload)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or data.get("name") not in specs:
            continue
        arguments = data.get("arguments", data.get("parameters", {}))
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                continue
        if isinstance(arguments, dict):
            return ToolCall(name=data["name"], arguments=arguments)
    return None


def parse_action(
    text: str, specs: Sequence[ToolSpec], finished: bool = True
) -> ParsedAction | FormatError:
    """The first action in a text-protocol reply.

    `finished=False` says generation stopped at the token limit: an unclosed create or
    edit block is then a cut-off (refused), not a model that forgot the closing fence.
    """
    text = normalize(text)
    by_name = {s.name: s for s in specs}
    candidates = [_classify(b, by_name) for b in find_blocks(text)]
    actions = [c for c in candidates if c.kind == "action"]
    if actions:
        chosen = actions[0]
        thought = text_before(text, chosen.block)
        notes: list[str] = []
        if len(actions) > 1:
            notes.append(
                f"Your reply had {len(actions)} actions; only the first ({chosen.name}) ran. "
                "Send one action per reply."
            )
        args = _block_args(by_name[chosen.name], chosen, finished, notes)
        if isinstance(args, FormatError):
            return FormatError(args.message, thought, args.kind)
        return ParsedAction(ToolCall(name=chosen.name, arguments=args), thought, tuple(notes))
    call = _json_call(text, by_name)
    if call is not None:
        start = text.find("<tool_call>")
        thought = text[:start].strip() if start >= 0 else ""
        return ParsedAction(call, thought)
    thought = text.strip()
    code = [c for c in candidates if c.kind == "code"]
    unknown = [c for c in candidates if c.kind == "unknown"]
    if unknown:
        name = unknown[0].name
        guess = suggest_tool(name, list(by_name))
        example = f" For example:\n{_example(by_name[guess])}" if guess else ""
        return FormatError(unknown_tool_text(name, specs) + example, thought, "unknown_tool")
    if code:
        if not finished and not code[-1].block.closed:
            return FormatError(_CUT_OFF, thought)
        return FormatError(_code_block_text(code[0], by_name), thought)
    return FormatError(_no_action_text(by_name), thought)


_CUT_OFF = (
    "Your reply was cut off (the length limit) before its action was complete, so nothing "
    "happened. Keep the thought to one or two sentences and put the action right after it."
)


def _code_block_text(candidate: _Candidate, specs: dict[str, ToolSpec]) -> str:
    if not candidate.name:
        example = f", for example:\n{_example(specs['view'])}" if "view" in specs else "."
        return (
            "Your fenced block has no tool name, so nothing happened. Write the tool name "
            f"right after the three backticks{example}\nThe tools are: {', '.join(specs)}."
        )
    parts = [f"Your ```{candidate.name} block is not an action, so nothing was run or changed."]
    if "edit" in specs:
        parts.append("To change a file, name the tool after the backticks and use SEARCH/REPLACE:")
        parts.append(_example(specs["edit"]))
    if "create" in specs:
        parts.append("To write a new file, open the block with ```create and a path: line.")
    if "bash" in specs:
        parts.append("To run code, use a ```bash block, for example: python3 -c 'print(1 + 1)'.")
    return "\n".join(parts)


def _no_action_text(specs: dict[str, ToolSpec]) -> str:
    text = "Your reply has no action, so nothing happened. End it with exactly one fenced block"
    text += " that names a tool"
    if "view" in specs:
        text += ", for example:\n" + render_text_call(specs["view"], {"path": "."})
    return text + f"\nThe tools are: {', '.join(specs)}."


def parse_native(
    calls: Sequence[ToolCall], specs: Sequence[ToolSpec], thought: str = ""
) -> ParsedAction | FormatError:
    """The first native tool call; an unknown name is a format error listing the tools."""
    names = {s.name for s in specs}
    if not calls:
        return FormatError("You did not call a tool. Call exactly one tool per reply.", thought)
    call = calls[0]
    if call.name not in names:
        return FormatError(unknown_tool_text(call.name, specs), thought, "unknown_tool")
    notes = ()
    if len(calls) > 1:
        notes = (f"You made {len(calls)} tool calls; only the first ({call.name}) ran. "
                 "Make one call per reply.",)  # fmt: skip
    return ParsedAction(call, thought, notes)


def parse_reply(
    text: str,
    tool_calls: Sequence[ToolCall] | None,
    specs: Sequence[ToolSpec],
    finished: bool = True,
) -> ParsedReply:
    """Native calls when the backend returned some, else the text protocol."""
    result = (
        parse_native(tool_calls, specs, text.strip())
        if tool_calls
        else parse_action(text, specs, finished)
    )
    if isinstance(result, FormatError):
        return ParsedReply(result.thought, None, result.message)
    return ParsedReply(result.thought, result.call, None, list(result.notes))
