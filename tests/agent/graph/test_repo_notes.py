"""Memory's notes about the repository in the free-form policy's prompt."""

from __future__ import annotations

import warnings

from agent.prompting import NOTES_HEADING, with_repo_notes
from agent.types import ExitStatus
from tests.agent.graph.conftest import HAPPY

warnings.filterwarnings("ignore", category=UserWarning, module="sandboxes.local")

NOTES = "`add` in pkg/core.py sums two numbers."


def test_with_repo_notes_appends_them_under_one_heading():
    assert with_repo_notes("You are an agent.", None) == "You are an agent."
    assert with_repo_notes("You are an agent.", "  \n") == "You are an agent."
    assert with_repo_notes("You are an agent.\n", f" {NOTES}\n") == (
        f"You are an agent.\n\n{NOTES_HEADING}\n{NOTES}\n"
    )


def test_every_free_form_prompt_carries_the_notes_after_the_system_prompt(harness):
    h = harness("local")
    handles = h.handles(HAPPY)
    handles.repo_notes = NOTES
    t = h.runner.start(h.task, h.repo, handles)
    assert t.exit_status == ExitStatus.SUBMITTED
    systems = [messages[0] for messages, _, _ in h.backend.calls]
    assert len(systems) == len(HAPPY)
    assert all(m.role == "system" and m.content.endswith(f"{NOTES_HEADING}\n{NOTES}\n")
               for m in systems)  # fmt: skip
