"""The free-form policy: the model sees the whole (elided) conversation and writes a
thought and one action per turn, in the text protocol or as a native tool call."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

from agent.backends.base import GenerationOptions
from agent.graph.state import kept_steps
from agent.policies.base import Proposal
from agent.prompting import build_messages, with_repo_notes
from agent.types import ExitStatus, Step, StepTimings, ToolSpec
from tools.protocol import parse_reply

if TYPE_CHECKING:
    from agent.graph.context import RunContext
    from agent.graph.state import AgentState

# Generation stops once the first fenced block closes: one action per turn, and the
# tokens a small model would spend repeating blocks are never generated.
BLOCK_END = "\n```\n"


def close_fence(text: str) -> str:
    """Put back the closing fence that the stop string swallowed."""
    return text + "\n```" if text.count("```") % 2 == 1 else text


def action_grammar_for(ctx: RunContext, specs: list[ToolSpec]) -> str | None:
    """The text protocol's grammar when `agent.constrained` asks for it and the backend
    can honour one (llamacpp); None otherwise (native tool calls are not constrained)."""
    if not ctx.config.agent.constrained or ctx.native_tools:
        return None
    if not ctx.backend.capabilities.constrained:
        return None
    from tools.grammar import action_grammar

    return action_grammar(specs)


class FreeformPolicy:
    name = "freeform"

    def propose(
        self, state: AgentState, ctx: RunContext, index: int, started_at: datetime
    ) -> Proposal:
        kept = kept_steps(state)
        budget = ctx.config.model.context_tokens - ctx.config.model.max_new_tokens
        messages = build_messages(
            with_repo_notes(ctx.system_prompt, ctx.repo_notes), ctx.task, kept, state.get("notes", []), ctx.backend.count_tokens,
            budget, ctx.config.agent.keep_recent_steps, ctx.config.agent.observation_chars,
            native=ctx.native_tools,
        )  # fmt: skip
        if messages is None:
            return Proposal(None, exit=(ExitStatus.CONTEXT_OVERFLOW,
                                        "the task and system prompt alone exceed the context"))  # fmt: skip
        specs = ctx.tools.specs()
        options = GenerationOptions(
            temperature=min(2.0, ctx.config.model.temperature + state.get("temperature_boost", 0.0)),
            max_new_tokens=ctx.config.model.max_new_tokens,
            seed=ctx.config.model.seed + index,
            capture_layer=ctx.capture_layer,
            stop=[] if ctx.native_tools else [BLOCK_END],
            grammar=action_grammar_for(ctx, specs),
        )  # fmt: skip
        started = time.perf_counter()
        generation = ctx.backend.generate(
            messages,
            tools=specs if ctx.native_tools else None,
            adapter=ctx.adapter,
            options=options,
        )
        model_s = time.perf_counter() - started
        text = generation.text if ctx.native_tools else close_fence(generation.text)
        parsed = parse_reply(text, generation.tool_calls, specs,
                             finished=generation.finish_reason != "length")  # fmt: skip
        step = Step(
            index=index, message=text, thought=parsed.thought, action=parsed.action,
            format_error=parsed.format_error, notes=list(parsed.notes), tokens=generation.usage,
            temperature=options.temperature, timings=StepTimings(model_s=model_s),
            started_at=started_at,
        )  # fmt: skip
        return Proposal(step, generation)
