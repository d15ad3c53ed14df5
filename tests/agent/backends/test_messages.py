"""ChatMessage ↔ OpenAI wire format."""

from __future__ import annotations

import json

import pytest

from agent.backends.messages import from_openai, to_openai
from agent.types import ChatMessage, ToolCall


def _turn() -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="sys"),
        ChatMessage(role="user", content="read a"),
        ChatMessage(
            role="assistant",
            content="",
            tool_calls=[ToolCall(name="read", arguments={"path": "a"}), ToolCall(name="ls")],
        ),
        ChatMessage(role="tool", content="A"),
        ChatMessage(role="tool", content="B"),
    ]


def test_calls_without_ids_get_ids_and_tool_results_pair_up_in_order():
    wire = to_openai(_turn())
    ids = [c["id"] for c in wire[2]["tool_calls"]]
    assert len(set(ids)) == 2
    assert [wire[3]["tool_call_id"], wire[4]["tool_call_id"]] == ids


def test_arguments_are_json_strings_on_the_wire_and_objects_for_templates():
    assert json.loads(to_openai(_turn())[2]["tool_calls"][0]["function"]["arguments"]) == {
        "path": "a"
    }
    assert to_openai(_turn(), arguments="object")[2]["tool_calls"][0]["function"]["arguments"] == {
        "path": "a"
    }


def test_round_trip_keeps_roles_content_and_calls():
    back = from_openai(to_openai(_turn()))
    assert [m.role for m in back] == ["system", "user", "assistant", "tool", "tool"]
    assert back[2].tool_calls[0].name == "read" and back[2].tool_calls[0].arguments == {"path": "a"}
    assert back[3].tool_call_id == back[2].tool_calls[0].id


def test_text_parts_are_joined_and_developer_is_system():
    msgs = from_openai(
        [
            {
                "role": "developer",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            }
        ]
    )
    assert (msgs[0].role, msgs[0].content) == ("system", "ab")


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"role": "robot", "content": "x"}, "role"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}, "only text"),
        (
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{"}}]},
            "not JSON",
        ),
        ({"role": "assistant", "tool_calls": [{"function": {}}]}, "function.name"),
    ],
)
def test_bad_messages_raise_value_errors_naming_the_field(raw, fragment):
    with pytest.raises(ValueError, match=fragment):
        from_openai([raw])
