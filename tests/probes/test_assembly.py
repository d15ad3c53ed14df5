"""A run's parts get the probes: `agent.assembly.build_handles` asks `open_probing`."""

from __future__ import annotations

from agent.assembly import build_handles
from agent.backends.base import BackendCapabilities
from agent.backends.fake import FakeBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.monitor import AcceptAll, ScriptedMonitor
from agent.types import Task
from probes.monitor import ProbeMonitor
from probes.probe import ScriptedProbe
from probes.store import ProbeStore

TASK = Task(id="t", repo=".", problem_statement="p")


def _handles(backend, monitor=None):
    events = []
    handles = build_handles(EngramConfig(), Home.resolve(), TASK, "repo", backend,
                            events=events.append, monitor=monitor)  # fmt: skip
    return handles, [e.text for e in events if e.kind == "note"]


def test_without_a_trained_probe_the_run_accepts_everything_and_says_why():
    handles, notes = _handles(FakeBackend([], model_id="test/model"))
    assert isinstance(handles.monitor, AcceptAll) and handles.capture_layer is None
    assert any("no probe is trained for test/model" in n for n in notes)


def test_with_a_trained_probe_the_run_captures_its_layer(trained):
    ProbeStore.for_home().save(trained)
    backend = FakeBackend([], model_id="test/model",
                          capabilities=BackendCapabilities(hidden_states=True))  # fmt: skip
    handles, notes = _handles(backend)
    assert isinstance(handles.monitor, ProbeMonitor)
    assert handles.capture_layer == trained.layer and handles.backend is backend
    assert any(trained.probe_id in n for n in notes)


def test_a_monitor_given_by_the_caller_is_kept():
    mine = ScriptedMonitor([])
    handles, notes = _handles(FakeBackend([], model_id="test/model"), monitor=mine)
    assert handles.monitor is mine and not any(n.startswith("probes:") for n in notes)
    assert ProbeMonitor(ScriptedProbe()).name == "probe"
