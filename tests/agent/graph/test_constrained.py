"""`agent.constrained` puts the text protocol's grammar into the generation options,
only where the backend can honour it."""

import warnings

from agent.backends.base import BackendCapabilities
from agent.backends.fake import FakeBackend
from tests.agent.graph.conftest import HAPPY
from tools.grammar import action_grammar

warnings.filterwarnings("ignore", category=UserWarning, module="sandboxes.local")


def _grammars(h, capabilities):
    backend = FakeBackend(list(HAPPY), capabilities=capabilities)
    h.run(None, backend=backend)
    return [options.grammar for _, _, options in backend.calls]


def test_constrained_backend_gets_the_protocol_grammar(harness):
    h = harness(**{"agent.constrained": True, "agent.action_format": "text"})
    grammars = _grammars(h, BackendCapabilities(constrained=True, adapters=True))
    assert len(grammars) == len(HAPPY)
    assert all(g is not None and g == grammars[0] for g in grammars)
    assert "tool-edit ::=" in grammars[0] and "tool-submit ::=" in grammars[0]


def test_no_grammar_without_the_capability_or_the_setting(harness):
    h = harness(**{"agent.constrained": True, "agent.action_format": "text"})
    assert set(_grammars(h, BackendCapabilities(adapters=True))) == {None}
    h = harness(**{"agent.action_format": "text"})
    assert set(_grammars(h, BackendCapabilities(constrained=True, adapters=True))) == {None}


def test_grammar_lists_every_tool_of_the_specs():
    from tools.registry import ToolRegistry

    specs = ToolRegistry().specs()
    grammar = action_grammar(specs)
    for spec in specs:
        assert f"tool-{spec.name.replace('_', '-')} ::=" in grammar
