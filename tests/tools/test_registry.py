"""Registry and dispatch: validation, unknown tools, failures that stay observations."""

import pytest

from sandboxes.base import SandboxError
from tools.base import ToolContext, ToolLimits, validate_arguments
from tools.registry import Toolbox, ToolRegistry
from tools.types import ToolCall, ToolParam, ToolResult, ToolSpec

ECHO = ToolSpec(
        name="echo", summary="Repeat the text.",
        params=[ToolParam(name="text", description="what to repeat"),
                ToolParam(name="times", type="integer", required=False, description="how often"),
                ToolParam(name="mode", required=False, description="how", enum=["plain", "loud"])],
        body_param="text", examples=[{"text": "hello", "times": 2}],
)  # fmt: skip


class Echo:
    """A real tool for dispatch logic: returns its text, or raises what it is told."""

    spec = ECHO

    def run(self, args, ctx):
        if args["text"] == "crash":
            raise RuntimeError("internal detail")
        if args["text"] == "sandbox died":
            raise SandboxError("container gone")
        return ToolResult(text=args["text"] * args.get("times", 1))


def dispatch(name, **args):
    ctx = ToolContext(None, limits=ToolLimits(output_chars=500))  # type: ignore[arg-type]
    return ToolRegistry([Echo()]).dispatch(ToolCall(name=name, arguments=args), ctx)


def test_default_tool_set():
    assert ToolRegistry().names == [
        "view",
        "search",
        "edit",
        "create",
        "bash",
        "run_tests",
        "submit",
    ]


def test_unknown_tool_lists_the_tools():
    result = ToolRegistry().dispatch(ToolCall(name="open_file", arguments={}), ToolContext(None))  # type: ignore[arg-type]
    assert result.error_kind == "unknown_tool" and "Did you mean view?" in result.text
    assert "view, search, edit, create, bash, run_tests, submit" in result.text


def test_missing_argument_shows_usage_with_a_concrete_example():
    result = dispatch("echo")
    assert result.error_kind == "bad_arguments" and "`text` is missing" in result.text
    assert "```echo\ntimes: 2\nhello\n```" in result.text


def test_extra_argument_is_refused():
    result = dispatch("echo", text="a", colour="red")
    assert "`colour` is not a parameter of echo (parameters: text, times, mode)" in result.text


def test_wrong_type_is_refused():
    assert (
        "`times` must be a whole number, not 'many'"
        in dispatch("echo", text="a", times="many").text
    )


def test_enum_is_checked():
    assert "`mode` must be one of plain, loud" in dispatch("echo", text="a", mode="quiet").text


def test_string_numbers_are_converted():
    assert dispatch("echo", text="ab", times="3").text == "ababab"


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("No", False), (1, True), ("off", False)]
)
def test_booleans_are_read_leniently(value, expected):
    spec = ToolSpec(
        name="t", summary="", params=[ToolParam(name="flag", type="boolean", description="")]
    )
    assert validate_arguments(spec, {"flag": value}) == ({"flag": expected}, [])


def test_a_boolean_is_not_a_number():
    assert "must be a number" in dispatch("echo", text="a", times=True).text


def test_tool_crash_is_an_observation_without_traceback():
    result = dispatch("echo", text="crash")
    assert result.error_kind == "tool_error" and "RuntimeError" in result.text
    assert "Traceback" not in result.text and "not your mistake" in result.text


def test_sandbox_failure_propagates():
    with pytest.raises(SandboxError):
        dispatch("echo", text="sandbox died")


def test_results_are_capped_to_the_output_limit():
    result = dispatch("echo", text="x" * 100, times=50)
    assert result.truncated and len(result.text) < 1000


def test_duplicate_names_are_rejected():
    with pytest.raises(ValueError, match="two tools named"):
        ToolRegistry([Echo(), Echo()])


def test_toolbox_is_the_graphs_toolset():
    box = Toolbox(ToolContext(None), ToolRegistry([Echo()]))  # type: ignore[arg-type]
    reply = box.parse("```echo\ntimes: 2\nhi\n```")
    assert box.run(reply.action).text == "hihi" and [s.name for s in box.specs()] == ["echo"]
    assert "```echo" in box.protocol_text()
