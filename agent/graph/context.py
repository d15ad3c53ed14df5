"""The runtime context: handles a run needs that are not state (never checkpointed).

LangGraph injects it into every node (`runtime.context`). Everything here is rebuilt
when a run is resumed; anything that must survive a crash belongs in the state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent.backends.base import Generation, LLMBackend
from agent.config import EngramConfig
from agent.monitor import Monitor
from agent.policies.base import Policy
from agent.policies.freeform import FreeformPolicy
from agent.types import Step, Task, Verification
from memory.trajectories import TrajectoryStore
from sandboxes.base import Sandbox
from sandboxes.workspace import Workspace
from tools.types import ToolCall, ToolResult, ToolSpec


class Toolset(Protocol):
    """What the graph needs from the tools layer."""

    def specs(self) -> list[ToolSpec]: ...

    def run(self, call: ToolCall) -> ToolResult: ...


class Verifier(Protocol):
    def verify(self, task: Task) -> Verification: ...


@dataclass(frozen=True)
class Event:
    """Progress for people watching a run (the CLI renders these live)."""

    kind: str  # proposed | executed | resampled | rolled_back | verified | exit | note
    step: Step | None = None
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


@dataclass
class RunContext:
    run_id: str
    task: Task
    config: EngramConfig
    backend: LLMBackend
    sandbox: Sandbox
    workspace: Workspace
    tools: Toolset
    verifier: Verifier
    monitor: Monitor
    store: TrajectoryStore
    system_prompt: str
    policy: Policy = field(default_factory=lambda: FreeformPolicy())
    adapter: str | None = None
    native_tools: bool = False
    capture_layer: int | None = None
    # Notes about the repository from memory; every policy puts them in its prompts.
    repo_notes: str | None = None
    events: EventSink = lambda event: None
    # Per-process scratch: the last Generation (hidden states are not persisted).
    last_generation: Generation | None = None
    # Test hook: called with a node name before it runs (to simulate kills).
    before_node: Callable[[str], None] | None = None
    # How many steps of a resumed/forked run were already logged (for step indices).
    extra: dict[str, Any] = field(default_factory=dict)
