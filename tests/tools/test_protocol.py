"""Rendering: native schemas and the text protocol, with concrete examples only."""

import re

import pytest

from tools.base import validate_arguments
from tools.calls import render_text_call, usage
from tools.protocol import ParsedAction, native_schema, native_tools, parse_action, render_protocol
from tools.registry import ToolRegistry

SPECS = ToolRegistry().specs()
EXAMPLES = [(spec, example) for spec in SPECS for example in spec.examples]
# What a small model would copy literally: capitalised or bracketed stand-ins.
PLACEHOLDER = re.compile(
    r"\b(FILE|PATH|FILENAME|OLD[ _]TEXT|NEW[ _]TEXT|YOUR[ _]\w+|COMMAND|PATTERN)\b|<[a-z_ ]+>|\{[a-z_]+\}|\.\.\."
)


def test_native_schemas_are_openai_function_tools():
    for schema, spec in zip(native_tools(SPECS), SPECS, strict=True):
        function = schema["function"]
        assert schema["type"] == "function" and function["name"] == spec.name
        params = function["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert set(params["required"]) <= set(params["properties"])


def test_native_schema_types_are_json_schema_types():
    types = {
        p["type"]
        for s in SPECS
        for p in native_schema(s)["function"]["parameters"]["properties"].values()
    }
    assert types <= {"string", "integer", "number", "boolean"}


def test_edit_native_schema_has_path_old_new_required():
    assert native_schema(next(s for s in SPECS if s.name == "edit"))["function"]["parameters"]["required"] == [
        "path", "old", "new",
    ]  # fmt: skip


def test_text_protocol_shows_every_tool_as_a_fenced_block():
    text = render_protocol(SPECS)
    for spec in SPECS:
        assert f"\n```{spec.name}\n" in text


def test_text_protocol_has_no_placeholders():
    assert PLACEHOLDER.search(render_protocol(SPECS)) is None


@pytest.mark.parametrize(("spec", "example"), EXAMPLES, ids=lambda v: getattr(v, "name", ""))
def test_every_example_parses_back_to_itself(spec, example):
    result = parse_action(render_text_call(spec, example), SPECS)
    assert isinstance(result, ParsedAction) and result.call.name == spec.name
    assert validate_arguments(spec, result.call.arguments) == validate_arguments(spec, example)


def test_text_protocol_stays_short_for_small_models():
    assert len(render_protocol(SPECS)) < 3000


def test_native_protocol_text_lists_tools_without_blocks():
    text = render_protocol(SPECS, "native")
    assert "```" not in text and all(f"- {s.name}:" in text for s in SPECS)


def test_usage_in_native_format_shows_a_json_call():
    view = next(s for s in SPECS if s.name == "view")
    assert '{"name": "view", "arguments": {"path": "src/ledger/money.py", "start": 75}}' in usage(
        view, "native"
    )


def test_content_with_backticks_renders_with_a_longer_fence():
    create = next(s for s in SPECS if s.name == "create")
    text = render_text_call(create, {"path": "README.md", "content": "```python\nx\n```\n"})
    assert text.startswith("````create\n") and text.endswith("\n````")
    result = parse_action(text, SPECS)
    assert (
        isinstance(result, ParsedAction)
        and result.call.arguments["content"] == "```python\nx\n```\n"
    )
