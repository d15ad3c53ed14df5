"""The Policy protocol: `call_model` asks the run's policy for the next step.

A policy builds the prompt, calls the backend (or proposes a harness action without a
model call: `Step.actor == "harness"`), and parses the reply into a pending Step. It
may keep JSON-able private state in the graph state (`policy_state`), so its phases
survive checkpoints, resumes and forks like everything else. It never executes
anything: the monitor decides and `act` runs the action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from agent.backends.base import Generation
from agent.types import ExitStatus, Step

if TYPE_CHECKING:
    from agent.graph.context import RunContext
    from agent.graph.state import AgentState


@dataclass
class Proposal:
    step: Step | None
    generation: Generation | None = None
    policy_state: dict[str, Any] | None = None  # replaces the stored state when not None
    exit: tuple[ExitStatus, str] | None = None  # the policy ends the run instead


class Policy(Protocol):
    name: str

    def propose(
        self, state: AgentState, ctx: RunContext, index: int, started_at: datetime
    ) -> Proposal: ...
