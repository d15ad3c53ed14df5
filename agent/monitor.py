"""The monitor seam: every proposed step is assessed before it runs.

A `Monitor` sees the proposed step (with its Generation: hidden states, logprobs) and
the run so far, and returns a `ProbeReading` whose `decision` routes the graph:
accept (run it), resample (drop it before it runs), rollback (restore the workspace
and conversation to the last safe step), finish. Probes implement this protocol
(`probes/`); until a probe is trained, `AcceptAll` is used and says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from agent.backends.base import Generation
from agent.types import Decision, ProbeReading, Step


@dataclass
class MonitorInput:
    step: Step
    generation: Generation | None  # None after a resume: features are not persisted
    history: list[Step]  # kept steps so far, oldest first


@runtime_checkable
class Monitor(Protocol):
    name: str

    def assess(self, item: MonitorInput) -> ProbeReading: ...

    def reset(self) -> None:
        """Forget running state (new run, or after a rollback: `replay` follows)."""
        ...

    def replay(self, history: Sequence[Step]) -> None:
        """Rebuild running state from kept steps (after a rollback or a resume)."""
        ...


class AcceptAll:
    """Accepts every step. Used when no probe is trained for the model, or probes are off."""

    name = "accept-all"

    def __init__(self, reason: str = "no probe"):
        self.reason = reason

    def assess(self, item: MonitorInput) -> ProbeReading:
        return ProbeReading(decision=Decision.ACCEPT, reason=self.reason)

    def reset(self) -> None:
        pass

    def replay(self, history: Sequence[Step]) -> None:
        pass


class ScriptedMonitor:
    """Decisions from a script, for tests of the graph's routing.

    Each item is a Decision or a callable `(MonitorInput) -> ProbeReading`. When the
    script runs out every further step is accepted.
    """

    name = "scripted"

    def __init__(self, script: Sequence[Decision | Callable[[MonitorInput], ProbeReading]]):
        self.script = list(script)
        self.seen: list[MonitorInput] = []

    def assess(self, item: MonitorInput) -> ProbeReading:
        self.seen.append(item)
        if not self.script:
            return ProbeReading(decision=Decision.ACCEPT, reason="script done")
        entry = self.script.pop(0)
        if callable(entry):
            return entry(item)
        score = 0.9 if entry != Decision.ACCEPT else 0.1
        return ProbeReading(
            decision=entry, reason=f"scripted {entry.value}", step_score=score,
            prefix_score=score, step_threshold=0.5, prefix_threshold=0.5,
        )  # fmt: skip

    def reset(self) -> None:
        pass

    def replay(self, history: Sequence[Step]) -> None:
        pass
