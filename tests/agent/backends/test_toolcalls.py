"""Tool schemas and `<tool_call>` parsing, on captured and hand-written model text."""

from __future__ import annotations

from agent.backends.toolcalls import parse_tool_calls, tool_schema, tool_schemas
from agent.types import ToolSpec
from tools.types import ToolParam

# Captured from the embedded Qwen2.5-Coder-0.5B (greedy) when offered get_weather.
CAPTURED_BARE = '{"name": "get_weather", "arguments": {"city": "Paris"}}'
TAGGED = (
    "I will read it.\n<tool_call>\n"
    '{"name": "read_file", "arguments": {"path": "setup.py"}}\n</tool_call>'
)


def test_tagged_block_becomes_a_call_and_the_text_outside_stays():
    parsed = parse_tool_calls(TAGGED)
    assert [(c.name, c.arguments) for c in parsed.calls] == [("read_file", {"path": "setup.py"})]
    assert parsed.calls[0].id.startswith("call_")
    assert parsed.content(TAGGED) == "I will read it.\n"


def test_several_blocks_keep_their_order():
    text = "".join(
        f'<tool_call>{{"name": "t{i}", "arguments": {{"i": {i}}}}}</tool_call>' for i in range(3)
    )
    assert [c.arguments["i"] for c in parse_tool_calls(text).calls] == [0, 1, 2]


def test_arguments_given_as_a_json_string_are_decoded():
    text = '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>'
    assert parse_tool_calls(text).calls[0].arguments == {"a": 1}


def test_unclosed_final_block_with_complete_json_is_accepted():
    text = '<tool_call>\n{"name": "f", "arguments": {}}'
    assert [c.name for c in parse_tool_calls(text).calls] == ["f"]


def test_malformed_block_is_reported_and_left_as_text():
    text = '<tool_call>{"name": "f", "arguments": {"a": }</tool_call> then <tool_call>{"x": 1}</tool_call>'
    parsed = parse_tool_calls(text)
    assert parsed.calls == []
    assert len(parsed.malformed) == 2
    assert "not valid JSON" in parsed.malformed[0] and "name" in parsed.malformed[1]
    assert parsed.content(text) == text


def test_bare_object_naming_an_offered_tool_is_a_call():
    parsed = parse_tool_calls(CAPTURED_BARE, {"get_weather"})
    assert [(c.name, c.arguments) for c in parsed.calls] == [("get_weather", {"city": "Paris"})]
    assert parsed.content(CAPTURED_BARE) == ""


def test_fenced_bare_object_is_a_call():
    text = '```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```'
    assert parse_tool_calls(text, {"read_file"}).calls[0].arguments == {"path": "a.py"}


def test_bare_json_is_text_unless_it_is_exactly_an_offered_call():
    assert parse_tool_calls(CAPTURED_BARE).calls == []  # no tools offered
    assert parse_tool_calls(CAPTURED_BARE, {"read_file"}).calls == []  # not an offered tool
    extra = '{"name": "get_weather", "arguments": {}, "version": 2}'
    assert parse_tool_calls(extra, {"get_weather"}).calls == []
    prose = "Call it like " + CAPTURED_BARE
    assert parse_tool_calls(prose, {"get_weather"}).calls == []


def test_tool_schema_has_required_and_enum():
    spec = ToolSpec(
        name="search",
        summary="Search the repository",
        description="Regex search.",
        params=[
            ToolParam(name="pattern", description="regex"),
            ToolParam(name="mode", description="how", required=False, enum=["files", "lines"]),
        ],
    )
    schema = tool_schema(spec)
    fn = schema["function"]
    assert schema["type"] == "function" and fn["name"] == "search"
    assert fn["description"] == "Search the repository\n\nRegex search."
    assert fn["parameters"]["required"] == ["pattern"]
    assert fn["parameters"]["properties"]["mode"] == {
        "type": "string", "description": "how", "enum": ["files", "lines"],
    }  # fmt: skip


def test_raw_schemas_pass_through():
    raw = {"type": "function", "function": {"name": "x", "parameters": {"type": "object"}}}
    assert tool_schemas([raw]) == [raw]
    assert tool_schemas(None) is None
