"""The documented Actions workflow stays in step with what `engram bot action` needs."""

from __future__ import annotations

from pathlib import Path

import yaml

from agent.config import BotSection
from bot.triggers import BRANCH_PREFIX, HANDLED_EVENTS

ROOT = Path(__file__).resolve().parents[2]


def test_example_workflow_subscribes_to_the_handled_events_with_the_needed_permissions():
    workflow = yaml.safe_load((ROOT / "docs/examples/engram-workflow.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == set(HANDLED_EVENTS)
    assert workflow["permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull-requests": "write",
    }
    job = workflow["jobs"]["engram"]
    assert BotSection().label in job["if"] and BotSection().command in job["if"]
    assert BRANCH_PREFIX in job["if"]
    steps = [s.get("run", "") for s in job["steps"]]
    assert any("engram bot action" in run for run in steps)


def test_bot_doc_has_measured_figures():
    text = (ROOT / "docs/bot.md").read_text()
    assert "BENCH_RESULTS" not in text
    assert "scripts/bench_bot_webhooks.py" in text
