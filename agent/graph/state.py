"""Graph state: plain JSON-able values only, so every checkpoint serialises cleanly.

Typed models (Step, ChatMessage, …) are stored as their JSON dumps and rebuilt at the
edges with the helpers below. Handles (sandbox, backend, monitor, stores) never live
here: they are in the runtime context (context.py).
"""

from __future__ import annotations

from typing import Any, TypedDict

from agent.types import ChatMessage, Step


class Counters(TypedDict):
    steps: int  # actions executed (including ones later rolled back)
    resamples: int
    rollbacks: int
    format_errors: int  # consecutive
    repeats: int
    prompt_tokens: int
    completion_tokens: int
    active_seconds: float  # wall time spent inside nodes (resumes do not count the downtime)


class AgentState(TypedDict, total=False):
    messages: list[dict[str, Any]]  # the conversation as the model sees it (before elision)
    steps: list[dict[str, Any]]  # every step, kept or not, in order
    pending: dict[str, Any] | None  # proposed by call_model, decided on by monitor
    decision: str | None  # the monitor's routing verdict for `pending`
    snapshot: str  # workspace snapshot ref of the current tree
    counters: Counters
    temperature_boost: float
    exit_status: str | None
    exit_reason: str
    verification: dict[str, Any] | None
    notes: list[dict[str, Any]]  # {"after": n kept steps, "text": ...}: harness messages
    policy_state: dict[str, Any]  # the policy's own phase data (JSON-able)


def new_counters() -> Counters:
    return Counters(steps=0, resamples=0, rollbacks=0, format_errors=0, repeats=0,
                    prompt_tokens=0, completion_tokens=0, active_seconds=0.0)  # fmt: skip


def steps_of(state: AgentState) -> list[Step]:
    return [Step.model_validate(s) for s in state.get("steps", [])]


def kept_steps(state: AgentState) -> list[Step]:
    return [s for s in steps_of(state) if s.kept]


def messages_of(state: AgentState) -> list[ChatMessage]:
    return [ChatMessage.model_validate(m) for m in state.get("messages", [])]


def dump(model: Step | ChatMessage) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=False)
