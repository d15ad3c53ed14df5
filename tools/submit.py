"""`submit`: end the run. The agent then verifies the result itself.

An empty submission (nothing changed since the run started) is questioned once:
small models often "submit" right after reading the code. Submitting again ends
the run anyway, since some tasks need no change.
"""

from __future__ import annotations

from typing import Any

from tools.base import ToolContext
from tools.types import ToolParam, ToolResult, ToolSpec

SPEC = ToolSpec(
    name="submit",
    summary="Finish: say the task is done (the tests are run once more afterwards).",
    description="Use it when your change is made and the tests pass. The message is optional.",
    params=[
        ToolParam(
            name="message",
            required=False,
            description="one or two sentences on what you changed",
            aliases=["summary", "msg", "text", "reason", "comment"],
        )
    ],
    body_param="message",
    examples=[{"message": "Money.__add__ subtracted instead of adding; it adds now."}],
)


class Submit:
    spec = SPEC

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult:
        message = str(args.get("message") or "").strip()
        warned = ctx.state.get("empty_submit_warned", False)
        if ctx.tree_changed is not None and not warned and not ctx.tree_changed():
            ctx.state["empty_submit_warned"] = True
            return ToolResult(
                ok=False,
                error_kind="refused",
                text=(
                    "Not submitted: no file has changed since the start. If the task needs "
                    "a code change, make it with edit first. If you are sure nothing needs "
                    "to change, submit again."
                ),
            )
        text = "Submitted." + (f" Message: {message}" if message else "")
        return ToolResult(text=text, submitted=True)
