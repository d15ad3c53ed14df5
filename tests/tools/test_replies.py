"""The text protocol's parser against well-formed and malformed replies (pure logic)."""

import random

import pytest

from tools.base import validate_arguments
from tools.protocol import FormatError, ParsedAction, parse_action, parse_native, parse_reply
from tools.registry import ToolRegistry
from tools.types import ToolCall

SPECS = ToolRegistry().specs()
BY_NAME = {s.name: s for s in SPECS}
EDIT_BODY = """<<<<<<< SEARCH
    def total(self):
        return 0
=======
    def total(self):

        return sum(self.items)
>>>>>>> REPLACE"""


def parsed(text: str, finished: bool = True) -> ParsedAction:
    result = parse_action(text, SPECS, finished)
    assert isinstance(result, ParsedAction), result
    return result


def error(text: str, finished: bool = True) -> FormatError:
    result = parse_action(text, SPECS, finished)
    assert isinstance(result, FormatError), result
    return result


def test_canonical_block_gives_the_call_and_the_thought():
    result = parsed("The bug is in add.\n```view\npath: src/x.py\nstart: 40\n```\n")
    assert result.call == ToolCall(name="view", arguments={"path": "src/x.py", "start": "40"})
    assert result.thought == "The bug is in add."


def test_string_values_validate_to_the_spec_types():
    args = parsed("```view\npath: a.py\nstart: 40\n```").call.arguments
    assert validate_arguments(BY_NAME["view"], args) == ({"path": "a.py", "start": 40}, [])


def test_missing_closing_fence_at_the_end_is_accepted():
    assert parsed("```view\npath: a.py").call.arguments == {"path": "a.py"}


def test_crlf_is_the_same_as_lf():
    lf = parsed("```edit\npath: a.py\n" + EDIT_BODY + "\n```").call
    crlf = parsed(("```edit\npath: a.py\n" + EDIT_BODY + "\n```").replace("\n", "\r\n")).call
    assert lf == crlf


def test_info_string_case_and_spaces_are_ignored():
    assert parsed("```  VIEW  \npath: a.py\n```").call.name == "view"


def test_key_equals_value_is_accepted():
    assert parsed("```view\npath=a.py\nstart = 3\n```").call.arguments == {
        "path": "a.py",
        "start": "3",
    }


def test_quoted_values_are_unquoted():
    assert parsed('```view\npath: "src/a b.py"\n```').call.arguments == {"path": "src/a b.py"}


def test_aliases_in_keys_map_to_the_parameter():
    assert parsed("```view\nfile: a.py\n```").call.arguments == {"path": "a.py"}


def test_indented_block_is_dedented_by_the_fence_only():
    text = "1. Fix it:\n   ```edit\n   path: a.py\n   <<<<<<< SEARCH\n       return 0\n   =======\n       return 1\n   >>>>>>> REPLACE\n   ```"
    args = parsed(text).call.arguments
    assert (args["old"], args["new"]) == ("    return 0", "    return 1")


def test_several_actions_run_the_first_and_say_so():
    result = parsed("```view\npath: a.py\n```\nthen\n```bash\nls\n```")
    assert result.call.name == "view" and "2 actions; only the first (view) ran" in result.notes[0]


def test_code_before_the_action_is_part_of_the_thought():
    result = parsed("I think this:\n```python\nx = 1\n```\nso:\n```bash\nls\n```")
    assert result.call.name == "bash" and result.notes == () and "x = 1" in result.thought


def test_python_block_is_a_format_error_that_shows_how_to_edit():
    message = error("Fix:\n```python\ndef add(a, b):\n    return a + b\n```").message
    assert "```python block is not an action" in message
    assert "```edit\npath: src/ledger/money.py\n<<<<<<< SEARCH" in message


def test_no_block_is_a_format_error_with_an_example():
    message = error("I will now look at the file money.py.").message
    assert "no action" in message and "```view\npath: .\n```" in message


def test_unknown_tool_lists_the_tools_and_suggests_one():
    result = error("```open\npath: a.py\n```")
    assert result.kind == "unknown_tool" and "Did you mean view?" in result.message
    assert "view, search, edit, create, bash, run_tests, submit" in result.message


@pytest.mark.parametrize("info", ["sh", "shell", "console", "Bash"])
def test_shell_dialects_mean_bash(info):
    assert parsed(f"```{info}\nls -la\n```").call == ToolCall(
        name="bash", arguments={"command": "ls -la"}
    )


def test_bash_body_is_verbatim_across_lines():
    command = "cat > /tmp/x.py <<'EOF'\nprint('a: b')\nEOF\npython3 /tmp/x.py"
    assert parsed(f"```bash\n{command}\n```").call.arguments == {"command": command}


def test_console_prompts_are_stripped():
    assert parsed("```console\n$ ls\n$ pwd\n```").call.arguments == {"command": "ls\npwd"}


def test_env_assignment_in_a_command_is_not_a_key():
    args = parsed("```bash\ntimeout=5 python3 x.py\n```").call.arguments
    assert args == {"command": "timeout=5 python3 x.py"}


def test_bash_timeout_key_then_command():
    args = parsed("```bash\ntimeout: 120\npython3 -m pytest\n```").call.arguments
    assert args == {"timeout": "120", "command": "python3 -m pytest"}


def test_search_body_may_contain_a_colon():
    args = parsed("```search\npath: src\nname: value\n```").call.arguments
    assert args == {"path": "src", "pattern": "name: value"}


def test_edit_search_replace_keeps_whitespace_and_blank_lines():
    args = parsed("```edit\npath: a.py\n" + EDIT_BODY + "\n```").call.arguments
    assert args["old"] == "    def total(self):\n        return 0"
    assert args["new"] == "    def total(self):\n\n        return sum(self.items)"


def test_aider_style_edit_takes_the_path_from_the_line_above():
    result = parsed("Change this:\nsrc/shop/cart.py\n```python\n" + EDIT_BODY + "\n```")
    assert result.call.name == "edit" and result.call.arguments["path"] == "src/shop/cart.py"


def test_edit_path_on_the_opening_line():
    assert parsed("```edit src/a.py\n" + EDIT_BODY + "\n```").call.arguments["path"] == "src/a.py"


def test_edit_without_divider_is_a_format_error():
    message = error("```edit\npath: a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n```").message
    assert "no ======= line" in message


def test_edit_without_replace_marker_in_a_closed_block_uses_the_rest():
    result = parsed("```edit\npath: a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n```")
    assert result.call.arguments["new"] == "x = 2" and "no >>>>>>> REPLACE" in result.notes[0]


def test_edit_cut_off_by_the_token_limit_is_refused():
    message = error(
        "```edit\npath: a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = ", finished=False
    ).message
    assert "cut off" in message


def test_edit_with_several_pairs_applies_the_first_and_says_so():
    body = EDIT_BODY + "\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE"
    result = parsed("```edit\npath: a.py\n" + body + "\n```")
    assert result.call.arguments["old"].endswith("return 0") and "Only the first" in result.notes[0]


def test_edit_without_search_replace_shows_the_format():
    message = error("```edit\npath: a.py\nreturn 1\n```").message
    assert "SEARCH/REPLACE" in message and "<<<<<<< SEARCH" in message


def test_create_content_is_verbatim():
    content = "def f():\n    if True:\n\n        return 1\n"
    assert parsed(f"```create\npath: f.py\n{content}\n```").call.arguments == {
        "path": "f.py",
        "content": content,
    }


def test_longer_fence_allows_backticks_inside_content():
    content = "# Title\n\n```python\nprint(1)\n```"
    result = parsed(f"````create\npath: README.md\n{content}\n````")
    assert result.call.arguments["content"] == content + "\n"


def test_create_cut_off_by_the_token_limit_is_refused():
    assert "cut off" in error("```create\npath: f.py\ndef f():\n    return", finished=False).message


def test_one_line_block():
    assert parsed("```view src/a.py```").call.arguments == {"path": "src/a.py"}


def test_one_line_bash_block_takes_the_command():
    assert parsed("```bash ls -la```").call.arguments == {"command": "ls -la"}


def test_bare_path_line_in_a_view_block():
    assert parsed("```view\nsrc/a.py\n```").call.arguments == {"path": "src/a.py"}


def test_bare_path_and_line_in_a_view_block():
    assert parsed("```view\nsrc/a.py 40\n```").call.arguments == {"path": "src/a.py", "start": "40"}


def test_unintelligible_view_block_is_a_format_error():
    assert "does not understand" in error("```view\nplease show me\nthe money file\n```").message


def test_tool_name_on_the_first_line_of_a_plain_block():
    assert parsed("```\nview\npath: a.py\n```").call == ToolCall(
        name="view", arguments={"path": "a.py"}
    )


def test_tilde_fences():
    assert parsed("~~~bash\nls\n~~~").call.arguments == {"command": "ls"}


def test_qwen_tool_call_json_is_accepted():
    text = 'Let me see.\n<tool_call>\n{"name": "view", "arguments": {"path": "a.py"}}\n</tool_call>'
    result = parsed(text)
    assert (
        result.call == ToolCall(name="view", arguments={"path": "a.py"})
        and result.thought == "Let me see."
    )


def test_json_block_call_is_accepted():
    text = '```json\n{"name": "bash", "arguments": "{\\"command\\": \\"ls\\"}"}\n```'
    assert parsed(text).call == ToolCall(name="bash", arguments={"command": "ls"})


def test_empty_submit_and_run_tests_blocks():
    assert parsed("```submit\n```").call.arguments == {}
    assert parsed("```run_tests\n```").call.arguments == {}


def test_bom_and_zero_width_spaces_are_ignored():
    assert parsed("\ufeff```view\u200b\npath: a.py\n```").call.name == "view"


def test_native_unknown_tool_is_a_format_error():
    result = parse_native([ToolCall(name="read_file", arguments={})], SPECS)
    assert isinstance(result, FormatError) and "Did you mean view?" in result.message


def test_native_several_calls_run_the_first_and_say_so():
    calls = [
        ToolCall(name="view", arguments={}),
        ToolCall(name="bash", arguments={"command": "ls"}),
    ]
    result = parse_native(calls, SPECS)
    assert isinstance(result, ParsedAction) and result.call.name == "view" and result.notes


def test_parse_reply_prefers_native_calls():
    reply = parse_reply("thinking", [ToolCall(name="submit", arguments={})], SPECS)
    assert reply.action == ToolCall(name="submit", arguments={}) and reply.thought == "thinking"


def test_parse_reply_reports_format_errors_as_text():
    reply = parse_reply("no action here", None, SPECS)
    assert reply.action is None and "no action" in (reply.format_error or "")


def test_the_parser_never_raises_on_garbage():
    rng = random.Random(7)
    pieces = ["```", "````", "~~~", "view", "edit", "bash", "\n", "path:", "=", "<<<<<<< SEARCH",
              "=======", ">>>>>>> REPLACE", "x", " ", "\r\n", "<tool_call>", "{", '"name"', "}",
              "`", "python", "start: abc", "\t", "::"]  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 25)))
        assert isinstance(parse_action(text, SPECS, rng.random() < 0.5), ParsedAction | FormatError)


def test_block_without_a_tool_name_says_to_add_one():
    message = error("Let me check.\n```\nls -la\n```").message
    assert "no tool name" in message and "```view\npath: src/ledger/money.py" in message


def test_reply_cut_off_inside_a_plain_block_says_it_was_cut_off():
    assert "cut off" in error("Let me run the tests.\n```", finished=False).message
