"""The embedded model writes notes about the ledger example; only grounded ones survive."""

from __future__ import annotations

import pytest

from tests.memory.knowledge_fixtures import LEDGER, ledger_index

pytestmark = pytest.mark.model


def test_embedded_model_writes_grounded_notes_for_ledger(embedded_model_dir):
    from agent.backends.llamacpp import LlamaCppBackend
    from agent.config import ModelSection
    from agent.home import Home
    from memory.notes import notes_from_repo
    from tools.grounding import Grounder

    index = ledger_index()
    lm = LlamaCppBackend.from_config(ModelSection(threads=1), Home.resolve())
    try:
        result = notes_from_repo(lm, LEDGER, index, max_files=1)
    finally:
        lm.close()
    assert result.replies == 1
    assert result.kept, f"no note survived: {result.dropped}"
    grounder = Grounder(index)
    for note in result.kept:
        assert grounder.check(note.text).grounded, note.text
        assert note.names and note.source == "repo"
    for _, why in result.dropped:
        assert why.split(":")[0] in {
            "ungrounded", "duplicate", "near-duplicate", "over the cap", "too long", "too short",
            "not a sentence", "negative claim", "code block", "names nothing in the repository",
        }  # fmt: skip
