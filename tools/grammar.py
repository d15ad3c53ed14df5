"""The text protocol as a GBNF grammar, for constrained decoding.

`action_grammar(specs)` writes a grammar (llama.cpp's GBNF) that admits exactly the
replies the protocol describes (tools.protocol) in its strict form: a few thought
lines, then one fenced block whose info string is a tool name, the tool's `key: value`
lines in the spec's order (optional ones may be left out), then its body — for `edit`
a SEARCH/REPLACE block — and the closing fence. Nothing may follow the block, so a
backend that honours the grammar ends the reply there.

Every reply the grammar admits is one `tools.replies.parse_action` turns into an action
(tested on sampled outputs): the rules below keep out what the forgiving parser would
read differently —

- a thought line never starts with a backtick, a tilde or white space, so it cannot
  open a block (the parser's fences may be indented, and tildes fence too);
- a body line never starts (after white space) with three backticks, which could close
  the block; in an edit, nor with five `<`, `=` or `>`, which are the markers;
- header values are one line and typed: integers are digits, booleans `true`/`false`,
  enums their values;
- a required body (bash's command, search's pattern) has a first line with text; an
  edit's SEARCH part has at least one line.

What it does not guarantee: that the arguments make sense (a path that exists, a
SEARCH text that matches), nor that a reply ends before the token limit — a reply cut
off by `max_new_tokens` is as incomplete as without a grammar.
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.calls import DIVIDER_MARK, REPLACE_MARK, SEARCH_MARK
from tools.types import ToolParam, ToolSpec

# Thought lines before the block. Bounded: a small model that is not allowed to write a
# code block otherwise tends to keep thinking aloud until the token limit.
MAX_THOUGHT_LINES = 6


def _runs_below(chars: str, limit: dict[str, int]) -> str:
    """GBNF alternatives for a line head that starts with fewer than `limit[c]` copies of
    each special character `c` (then anything that is not `c`, or the end of the line)."""
    alts = []
    for char in chars:
        for k in range(1, limit[char]):
            lit = char * k
            alts.append(f'"{lit}" ([^{char}\\n\\r] [^\\n\\r]*)?')
    # One line: GBNF ends a rule at a newline outside parentheses.
    return "".join(f" | {alt}" for alt in alts)


def _rule_name(tool: str) -> str:
    # GBNF rule names are letters, digits and dashes.
    return "tool-" + "".join(c if c.isalnum() else "-" for c in tool.lower())


def _gbnf_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _value_rule(param: ToolParam) -> str:
    if param.enum:
        return "(" + " | ".join(_gbnf_literal(v) for v in param.enum) + ")"
    if param.type == "integer":
        return "int"
    if param.type == "boolean":
        return "bool"
    return "value"


def _tool_rule(spec: ToolSpec) -> str:
    body_keys: set[str] = set()
    if spec.body_format == "search_replace":
        body_keys = {"old", "new"}
    elif spec.body_param:
        body_keys = {spec.body_param}
    parts = [_gbnf_literal(f"{spec.name}\n")]
    for param in spec.params:
        if param.name in body_keys:
            continue
        line = f'{_gbnf_literal(param.name + ": ")} {_value_rule(param)} "\\n"'
        parts.append(line if param.required else f"({line})?")
    if spec.body_format == "search_replace":
        parts.append(_gbnf_literal(SEARCH_MARK + "\n"))
        parts.append('sline1 "\\n" (sline "\\n")*')
        parts.append(_gbnf_literal(DIVIDER_MARK + "\n"))
        parts.append('(sline "\\n")*')
        parts.append(_gbnf_literal(REPLACE_MARK + "\n"))
    elif spec.body_param:
        required = next((p.required for p in spec.params if p.name == spec.body_param), False)
        parts.append("body" if required else "body?")
    parts.append('"```"')
    return f"{_rule_name(spec.name)} ::= " + " ".join(parts)


def action_grammar(specs: Sequence[ToolSpec]) -> str:
    """A GBNF grammar (root rule `root`) for one text-protocol reply offering `specs`."""
    if not specs:
        raise ValueError("a grammar for actions needs at least one tool")
    names = [_rule_name(s.name) for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"tool names collide as grammar rules: {[s.name for s in specs]}")
    lines = ['root ::= thought "```" (' + " | ".join(names) + ")"]
    lines += [_tool_rule(spec) for spec in specs]
    lines += _common_rules()
    return "\n".join(lines) + "\n"


def _common_rules() -> list[str]:
    # bhead: a body line's start that cannot close the fence (three backticks);
    # shead: nor be a SEARCH/REPLACE marker (five <, = or >).
    body_runs = _runs_below("`", {"`": 3})
    edit_runs = _runs_below("`<=>", {"`": 3, "<": 5, "=": 5, ">": 5})
    return [
        f'thought ::= (tline "\\n"){{0,{MAX_THOUGHT_LINES}}}',
        r"tline ::= ([^`~ \t\n\r] [^\n\r]*)?",
        r"value ::= [^ \t\n\r] [^\n\r]*",
        "int ::= [0-9]{1,9}",
        'bool ::= "true" | "false"',
        r'body ::= [ \t]* bhead "\n" ([ \t]* bhead? "\n")*',
        r"bhead ::= [^ \t\n\r`] [^\n\r]*" + body_runs,
        r"sline ::= [ \t]* shead?",
        r"sline1 ::= [ \t]* shead",
        r"shead ::= [^ \t\n\r`<=>] [^\n\r]*" + edit_runs,
    ]
