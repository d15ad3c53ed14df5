"""The graph's nodes. Each takes the state and the runtime, returns a state update.

Failures of the agent's actions become observations; the run's own limits end it with
an exit status and a route to `verify`; anything else propagates (the runner saves the
trajectory before re-raising).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from agent.graph.context import Event, RunContext
from agent.graph.state import AgentState, dump, kept_steps, steps_of
from agent.monitor import MonitorInput
from agent.types import (
    Decision,
    ExitStatus,
    Observation,
    ProbeReading,
    Step,
    TokenUsage,
    utcnow,
)

READ_ONLY_TOOLS = {"view", "search"}
# A second submit on an unchanged tree confirms the first (the tool refuses once).
REPEATABLE_TOOLS = {"submit"}
MAX_TEMPERATURE_BOOST = 1.0


NodeFn = Callable[[AgentState, RunContext], dict[str, Any]]


def node(
    name: str,
) -> Callable[[NodeFn], Callable[[AgentState, Runtime[RunContext]], dict[str, Any]]]:
    """Wrap a node: the test hook runs first, and the node's own wall time is added to
    `counters.active_seconds` (time limits count work, not the downtime before a resume)."""

    def wrap(fn: NodeFn) -> Callable[[AgentState, Runtime[RunContext]], dict[str, Any]]:
        def run(state: AgentState, runtime: Runtime[RunContext]) -> dict[str, Any]:
            ctx = runtime.context
            if ctx.before_node is not None:
                ctx.before_node(name)
            started = time.perf_counter()
            update = fn(state, ctx)
            counters = dict(update.get("counters") or state["counters"])
            counters["active_seconds"] += time.perf_counter() - started
            return {**update, "counters": counters}

        run.__name__ = name
        return run

    return wrap


def _pending(state: AgentState) -> Step:
    return Step.model_validate(state["pending"])


def _counters(state: AgentState, **delta: float) -> dict[str, Any]:
    counters = dict(state["counters"])
    for key, value in delta.items():
        counters[key] = counters[key] + value
    return counters


def _exit(status: ExitStatus, reason: str) -> dict[str, Any]:
    return {"exit_status": status.value, "exit_reason": reason, "pending": None, "decision": None}


def _limit_exit(state: AgentState, ctx: RunContext) -> dict[str, Any] | None:
    limits = ctx.config.agent
    c = state["counters"]
    if c["steps"] >= limits.max_steps:
        return _exit(ExitStatus.STEP_LIMIT, f"reached the step limit ({limits.max_steps})")
    if c["prompt_tokens"] + c["completion_tokens"] >= limits.max_tokens:
        return _exit(ExitStatus.TOKEN_LIMIT, f"used the token budget ({limits.max_tokens})")
    if c["active_seconds"] >= limits.max_wall_s:
        return _exit(ExitStatus.TIME_LIMIT, f"reached the time limit ({limits.max_wall_s:.0f} s)")
    return None


@node("call_model")
def call_model(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    started_at = utcnow()
    if (ended := _limit_exit(state, ctx)) is not None:
        return ended
    index = len(state.get("steps", []))
    proposal = ctx.policy.propose(state, ctx, index, started_at)
    update: dict[str, Any] = {}
    if proposal.policy_state is not None:
        update["policy_state"] = proposal.policy_state
    if proposal.exit is not None or proposal.step is None:
        status, reason = proposal.exit or (ExitStatus.ERROR, "the policy proposed nothing")
        return {**update, **_exit(status, reason)}
    ctx.last_generation = proposal.generation
    pending = proposal.step
    ctx.events(Event("proposed", pending))
    return {
        **update,
        "pending": dump(pending),
        "counters": _counters(
            state,
            prompt_tokens=pending.tokens.prompt_tokens,
            completion_tokens=pending.tokens.completion_tokens,
        ),
    }


def _same_action(a: Step, b: Step) -> bool:
    return a.action is not None and b.action is not None and (
        a.action.name, a.action.arguments) == (b.action.name, b.action.arguments)  # fmt: skip


def find_repeat(pending: Step, kept: list[Step], allow_resubmit: bool = True) -> Step | None:
    """An earlier kept step with the same action and no change of the tree since.

    Its observation would be the same again, so running it teaches the model nothing
    (small models loop on exactly this). A second `submit` on an unchanged tree confirms
    the first (the tool refuses once) only where `allow_resubmit`: a task with failing
    tests cannot be done without a change, so there it is a repeat like any other.
    """
    if pending.action is None:
        return None
    resubmit = pending.action.name in REPEATABLE_TOOLS
    if resubmit and allow_resubmit:
        return None
    for earlier in reversed(kept):
        if _same_action(pending, earlier) or (
            resubmit and earlier.action is not None and earlier.action.name == pending.action.name
        ):
            return earlier
        if earlier.snapshot_after and earlier.snapshot_after != earlier.snapshot_before:
            return None  # the tree changed after it: re-running may give a new answer
    return None


@node("monitor")
def monitor(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    started = time.perf_counter()
    pending = _pending(state)
    kept = kept_steps(state)
    reading = ctx.monitor.assess(MonitorInput(pending, ctx.last_generation, kept))
    if reading.decision == Decision.ACCEPT and pending.format_error is None:
        repeat = find_repeat(pending, kept, allow_resubmit=not ctx.task.fail_to_pass)
        if repeat is not None:
            pending.repeat_of = repeat.index
            reading = reading.model_copy(update={
                "decision": Decision.RESAMPLE,
                "reason": f"repeats step {repeat.index} with nothing changed since",
            })  # fmt: skip
    reading.latency_s = time.perf_counter() - started
    pending.readings.append(reading)
    pending.timings.monitor_s += reading.latency_s
    limits = ctx.config.agent
    counters = state["counters"]
    update: dict[str, Any] = {"pending": dump(pending), "decision": reading.decision.value}
    if reading.decision == Decision.FINISH:
        update |= _exit(
            ExitStatus.BUDGET_EXHAUSTED, f"the monitor stopped the run: {reading.reason}"
        )
        _record_dropped(ctx, state, pending, resampled=True, reason=reading.reason, update=update)
    elif reading.decision == Decision.RESAMPLE and counters["resamples"] >= limits.max_resamples:
        update |= _exit(ExitStatus.BUDGET_EXHAUSTED,
                        f"resample budget ({limits.max_resamples}) used up: {reading.reason}")  # fmt: skip
        _record_dropped(ctx, state, pending, resampled=True, reason=reading.reason, update=update)
    elif reading.decision == Decision.ROLLBACK and counters["rollbacks"] >= limits.max_rollbacks:
        update |= _exit(ExitStatus.BUDGET_EXHAUSTED,
                        f"rollback budget ({limits.max_rollbacks}) used up: {reading.reason}")  # fmt: skip
        _record_dropped(ctx, state, pending, resampled=True, reason=reading.reason, update=update)
    return update


def _record_dropped(ctx: RunContext, state: AgentState, step: Step, *, resampled: bool,
                    reason: str, update: dict[str, Any]) -> None:  # fmt: skip
    if resampled:
        step.resampled = True
    else:
        step.rolled_back = True
    step.reason = reason
    ctx.store.append_step(ctx.run_id, step)
    update["steps"] = [*state.get("steps", []), dump(step)]


def route_after_monitor(state: AgentState) -> str:
    if state.get("exit_status"):
        return "verify"
    return {
        Decision.ACCEPT.value: "act",
        Decision.RESAMPLE.value: "resample",
        Decision.ROLLBACK.value: "rollback",
        Decision.FINISH.value: "verify",
    }[state["decision"] or Decision.ACCEPT.value]


def route_after_call(state: AgentState) -> str:
    return "verify" if state.get("exit_status") else "monitor"


@node("resample")
def resample(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    pending = _pending(state)
    reason = pending.readings[-1].reason if pending.readings else "resample"
    update: dict[str, Any] = {"pending": None, "decision": None}
    _record_dropped(ctx, state, pending, resampled=True, reason=reason, update=update)
    ctx.events(Event("resampled", pending, text=reason))
    repeats = 1 if pending.repeat_of is not None else 0
    update["counters"] = _counters(state, resamples=1, repeats=repeats)
    update["temperature_boost"] = min(
        MAX_TEMPERATURE_BOOST, state.get("temperature_boost", 0.0) + 0.3
    )
    return update


def _safe(step: Step) -> bool:
    """A step whose last prefix reading was under its threshold (or had none)."""
    for reading in reversed(step.readings):
        if reading.prefix_score is not None and reading.prefix_threshold is not None:
            return reading.prefix_score < reading.prefix_threshold
    return True


@node("rollback")
def rollback(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    pending = _pending(state)
    reading: ProbeReading = pending.readings[-1]
    steps = steps_of(state)
    kept_positions = [i for i, s in enumerate(steps) if s.kept]
    # The newest kept step that was judged safe when it ran becomes the restore point.
    target_pos = next((i for i in reversed(kept_positions) if _safe(steps[i])), None)
    # Always undo at least the newest kept step: the alarm is about the run so far.
    if target_pos is not None and kept_positions and target_pos == kept_positions[-1]:
        earlier = [i for i in kept_positions if i < target_pos]
        target_pos = earlier[-1] if earlier else None
    target_ref = (
        steps[target_pos].snapshot_after if target_pos is not None else ctx.workspace.base_snapshot
    )
    ctx.sandbox.restore(target_ref)
    undone = [i for i in kept_positions if target_pos is None or i > target_pos]
    for i in undone:
        steps[i].rolled_back = True
        steps[i].reason = f"rolled back: {reading.reason}"
    pending.rolled_back = True
    pending.reason = f"not run: {reading.reason}"
    steps.append(pending)
    ctx.store.rewrite_steps(ctx.run_id, steps)
    kept_after = [s for s in steps if s.kept]
    ctx.monitor.reset()
    ctx.monitor.replay(kept_after)
    first_undone = steps[undone[0]].index if undone else pending.index
    note = (
        f"Note: the last {len(undone)} step(s) (from step {first_undone}) were undone and the files "
        f"restored, because the run was drifting ({reading.reason}). Take a different approach."
    )
    ctx.events(Event("rolled_back", pending, text=note, data={"undone": len(undone)}))
    notes = [n for n in state.get("notes", []) if n["after"] <= len(kept_after)]
    return {
        "steps": [dump(s) for s in steps],
        "pending": None,
        "decision": None,
        "snapshot": target_ref,
        "notes": [*notes, {"after": len(kept_after), "text": note}],
        "counters": _counters(state, rollbacks=1),
        "temperature_boost": min(MAX_TEMPERATURE_BOOST, state.get("temperature_boost", 0.0) + 0.2),
    }


@node("act")
def act(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    step = _pending(state)
    step.snapshot_before = state["snapshot"]
    counters = state["counters"]
    format_errors = counters["format_errors"]
    submitted = False
    if step.format_error is not None:
        format_errors += 1
        step.observation = Observation(text=step.format_error, ok=False, error_kind="format_error")
        step.snapshot_after = state["snapshot"]
    else:
        format_errors = 0
        assert step.action is not None
        tool_started = time.perf_counter()
        result = ctx.tools.run(step.action)
        step.timings.tools_s = time.perf_counter() - tool_started
        submitted = result.submitted
        step.observation = Observation(
            text=result.text, ok=result.ok, error_kind=result.error_kind,
            truncated=result.truncated, exit_code=result.exit_code, tests=result.tests,
        )  # fmt: skip
        snap_started = time.perf_counter()
        if step.action.name in READ_ONLY_TOOLS:
            step.snapshot_after = state["snapshot"]
        else:
            step.snapshot_after = ctx.sandbox.snapshot(f"step {step.index}")
        step.timings.snapshot_s = time.perf_counter() - snap_started
    # From the start of call_model to now: model, monitor, tools, snapshot and the graph's
    # own work in between (checkpoint writes, prompt building) — the framework overhead.
    step.timings.total_s = (utcnow() - step.started_at).total_seconds()
    ctx.store.append_step(ctx.run_id, step)
    ctx.events(Event("executed", step))
    update: dict[str, Any] = {
        "steps": [*state.get("steps", []), dump(step)],
        "pending": None,
        "decision": None,
        "snapshot": step.snapshot_after,
        "temperature_boost": 0.0,
        "counters": {**_counters(state, steps=1), "format_errors": format_errors},
    }
    if submitted:
        update |= {"exit_status": ExitStatus.SUBMITTED.value, "exit_reason": "the agent submitted"}
    elif format_errors >= ctx.config.agent.max_format_errors:
        update |= {"exit_status": ExitStatus.FORMAT_ERRORS.value,
                   "exit_reason": f"{format_errors} malformed replies in a row"}  # fmt: skip
    return update


def route_after_act(state: AgentState) -> str:
    return "verify" if state.get("exit_status") else "call_model"


@node("verify")
def verify(state: AgentState, ctx: RunContext) -> dict[str, Any]:
    verification = ctx.verifier.verify(ctx.task)
    ctx.events(Event("verified", text=verification.summary, data={"passed": verification.passed}))
    return {"verification": verification.model_dump(mode="json")}


def usage_of(state: AgentState) -> TokenUsage:
    c = state["counters"]
    return TokenUsage(prompt_tokens=c["prompt_tokens"], completion_tokens=c["completion_tokens"])
