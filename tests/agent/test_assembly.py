"""build_handles says when a setting cannot be honoured by the backend in use."""

from __future__ import annotations

from agent.assembly import build_handles
from agent.backends.base import BackendCapabilities
from agent.backends.fake import FakeBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.monitor import AcceptAll
from agent.types import Task

TASK = Task(id="t", repo=".", problem_statement="p")


def _notes(config: EngramConfig, backend) -> list[str]:
    events = []
    build_handles(config, Home.resolve(), TASK, "repo", backend, events=events.append,
                  monitor=AcceptAll())  # fmt: skip
    return [e.text for e in events if e.kind == "note"]


def test_constrained_actions_on_a_backend_without_grammars_are_reported():
    on = EngramConfig.model_validate({"agent": {"constrained": True, "action_format": "text"}})
    notes = _notes(on, FakeBackend([]))
    assert any("agent.constrained is on, but the fake backend cannot" in n for n in notes)
    able = FakeBackend([], capabilities=BackendCapabilities(constrained=True))
    assert not any("agent.constrained" in n for n in _notes(on, able))
    assert not any("agent.constrained" in n for n in _notes(EngramConfig(), FakeBackend([])))
