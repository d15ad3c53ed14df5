"""The text protocol's GBNF grammar, checked as text (llama.cpp parsing it and the parser
accepting sampled replies is tested with the real model in
tests/agent/backends/test_llamacpp.py)."""

import re

import pytest

from tools.grammar import action_grammar
from tools.registry import ToolRegistry
from tools.types import ToolParam, ToolSpec


def test_every_rule_is_one_line_and_every_reference_is_defined():
    grammar = action_grammar(ToolRegistry().specs())
    lines = grammar.strip().split("\n")
    # GBNF ends a rule at a newline outside parentheses: one rule per line
    assert all(re.match(r"^[a-z0-9-]+ ::= ", line) for line in lines), lines
    defined = {line.split(" ::= ")[0] for line in lines}
    bodies = " ".join(re.sub(r'"(\\.|[^"\\])*"|\[(\\.|[^\]\\])*\]', " ", line.split(" ::= ", 1)[1])
                      for line in lines)  # fmt: skip
    used = set(re.findall(r"[a-z][a-z0-9-]*", bodies))
    assert used <= defined, used - defined
    assert "root" in defined


def test_typed_header_values_and_required_body():
    spec = ToolSpec(name="run_it", summary="x", body_param="cmd", params=[
        ToolParam(name="cmd", description="command", required=True),
        ToolParam(name="n", description="count", type="integer", required=False),
        ToolParam(name="mode", description="m", enum=["a", "b"]),
    ])  # fmt: skip
    rule = next(line for line in action_grammar([spec]).split("\n") if line.startswith("tool-run"))
    assert '"run_it\\n"' in rule and '("n: " int "\\n")?' in rule
    assert '"mode: " ("a" | "b")' in rule and rule.endswith('body "```"')


def test_no_tools_is_refused():
    with pytest.raises(ValueError):
        action_grammar([])
