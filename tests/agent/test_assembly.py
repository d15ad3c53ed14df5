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


def test_repo_notes_reach_the_handles_only_when_asked_for(tmp_path):
    from agent.prompting import NOTES_HEADING, with_repo_notes
    from memory.note import Note
    from memory.notes_store import NotesStore

    home = Home(tmp_path / "home")
    home.ensure()
    on = EngramConfig.model_validate({"memory": {"notes_in_context": True}})

    def handles(config):
        events = []
        made = build_handles(config, home, TASK, "repo", FakeBackend([]), events=events.append,
                             monitor=AcceptAll())  # fmt: skip
        return made, [e.text for e in events if e.kind == "note"]

    made, notes = handles(on)
    assert made.repo_notes is None
    assert "repo notes in context: none kept for this repo yet" in notes

    claim = "`Money.parse` in `src/ledger/money.py` turns text into a `Money`."
    NotesStore(home).add("repo", [Note(text=claim, kind="api")])
    made, notes = handles(on)
    assert claim in made.repo_notes
    assert any(n.startswith("repo notes in context: ") and "characters" in n for n in notes)
    assert NOTES_HEADING in with_repo_notes("system", made.repo_notes)

    made, notes = handles(EngramConfig())  # the default: notes stay out of the prompts
    assert made.repo_notes is None
    assert not any("repo notes" in n for n in notes)


def test_the_text_protocol_shows_the_repositorys_own_examples(tmp_path):
    from types import SimpleNamespace

    from tests.conftest import make_git_repo
    from tests.tools.conftest import SHOP

    repo = make_git_repo(tmp_path / "shop", SHOP)
    workspace = SimpleNamespace(path=repo, diff=lambda: "")
    text = EngramConfig.model_validate({"agent": {"action_format": "text"}})
    made = build_handles(text, Home.resolve(), TASK, "shop", FakeBackend([]), monitor=AcceptAll())
    tools = made.make_tools(None, workspace)
    assert "path: src/shop/cart.py" in tools.protocol_text()
    assert "src/ledger" not in made.system_prompt(tools, workspace)
    native = EngramConfig.model_validate({"agent": {"action_format": "native"}})
    made = build_handles(native, Home.resolve(), TASK, "shop", FakeBackend([]), monitor=AcceptAll())
    assert made.make_tools(None, workspace).examples is None
