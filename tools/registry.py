"""The default tool set, lookup by name, and dispatch with validation.

`ToolRegistry.dispatch(call, ctx)` is the one way a tool runs: unknown names and bad
arguments come back as results that teach the right form; a tool that breaks
unexpectedly comes back as a `tool_error` result (logged with its traceback here,
never shown to the model); a sandbox that died is not the model's doing and
propagates. Every result is capped to the context's output limit.

`Toolbox` binds a registry to one run's ToolContext: it is what the agent graph
holds (`specs()`, `run(call)`), plus the protocol text and the reply parser.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from sandboxes.base import PathOutsideWorkspace, SandboxError
from tools.base import Tool, ToolContext, bad_arguments, failure, validate_arguments
from tools.bash import Bash
from tools.create import Create
from tools.edit import Edit
from tools.examples import ToolExamples, with_examples
from tools.names import unknown_tool_text
from tools.protocol import ParsedReply, native_tools, parse_reply, render_protocol
from tools.run_tests import RunTests
from tools.search import Search
from tools.submit import Submit
from tools.text import cut_middle
from tools.types import ToolCall, ToolResult, ToolSpec
from tools.view import View

log = logging.getLogger(__name__)

# Room for a result's own framing beyond the limit a tool aims for.
_SLACK = 400


def default_tools() -> list[Tool]:
    return [View(), Search(), Edit(), Create(), Bash(), RunTests(), Submit()]


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool] | None = None):
        self._tools: dict[str, Tool] = {}
        for tool in default_tools() if tools is None else tools:
            if tool.spec.name in self._tools:
                raise ValueError(f"two tools named {tool.spec.name!r}")
            self._tools[tool.spec.name] = tool

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self._tools.values()]

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def dispatch(
        self, call: ToolCall, ctx: ToolContext, examples: ToolExamples | None = None
    ) -> ToolResult:
        """Run `call`; the teaching messages show `examples` where given (Toolbox)."""
        tool = self._tools.get(call.name)
        if tool is None:
            shown = with_examples(self.specs(), examples)
            return failure("unknown_tool", unknown_tool_text(call.name, shown))
        args, problems = validate_arguments(tool.spec, call.arguments)
        if problems:
            spec = with_examples([tool.spec], examples)[0]
            return bad_arguments(spec, problems, ctx.action_format)
        try:
            result = tool.run(args, ctx)
        except PathOutsideWorkspace as exc:
            result = failure("refused", f"{exc}. Paths are relative to the repository root.")
        except SandboxError:
            raise
        except Exception as exc:
            log.exception("tool %s failed on %r", call.name, call.arguments)
            result = failure(
                "tool_error",
                f"The {call.name} tool failed internally ({type(exc).__name__}: {exc}). "
                "This is not your mistake; try another way to get what you need.",
            )
        limit = ctx.limits.output_chars + _SLACK
        if len(result.text) > limit:
            text, _ = cut_middle(result.text, limit)
            result = result.model_copy(update={"text": text, "truncated": True})
        return result


class Toolbox:
    """A registry bound to one run's context: the graph's tool set.

    `examples` (tools.examples.repo_examples) replaces the tools' built-in examples,
    taken from the bundled sample project, with the run's repository's own names —
    everywhere the model sees one: the prompt, usage notes, format-error messages."""

    def __init__(
        self,
        ctx: ToolContext,
        registry: ToolRegistry | None = None,
        examples: ToolExamples | None = None,
    ):
        self.ctx = ctx
        self.registry = registry or ToolRegistry()
        self.examples = examples
        self._specs = with_examples(self.registry.specs(), examples)

    def specs(self) -> list[ToolSpec]:
        return self._specs

    def run(self, call: ToolCall) -> ToolResult:
        return self.registry.dispatch(call, self.ctx, self.examples)

    def protocol_text(self) -> str:
        return render_protocol(self.specs(), self.ctx.action_format, self.examples)

    def native_schemas(self) -> list[dict]:
        return native_tools(self.specs())

    def parse(
        self, text: str, tool_calls: Sequence[ToolCall] | None = None, finished: bool = True
    ) -> ParsedReply:
        return parse_reply(text, tool_calls, self.specs(), finished)
