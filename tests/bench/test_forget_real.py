"""The forget track on memory's real general evaluation: the embedded model through
`memory.peft_lm.PeftLM`, one HumanEval problem run in the Docker sandbox, the held-out
loss. Asserts the figures arrive in the track's files and report — not their values."""

from __future__ import annotations

import json
import math

import pytest

from agent.config import load_config
from agent.home import Home
from bench.report.render import render_report
from bench.session import start_session
from tests.bench.taskset import make_tasks, task_file

pytestmark = [pytest.mark.model, pytest.mark.docker, pytest.mark.slow]


def test_the_base_model_is_evaluated_for_real(stats_repo, tmp_path, embedded_model_dir,
                                              sandbox_image):  # fmt: skip
    home = Home.resolve()
    home.ensure()
    tasks = make_tasks(stats_repo, home, ["mean"])
    config = load_config(flags={"model.threads": 1, "sandbox.kind": "docker"}).config
    session = start_session(home, task_file(tmp_path / "t.jsonl", tasks), config,
                            tracks=["forget"], options={"humaneval_n": 1}, name="forget",
                            command=["engram", "bench", "run", "--track", "forget"])  # fmt: skip
    try:
        session.run_tracks()
    finally:
        session.close()
    entry = json.loads((session.run_dir / "forget" / "base.json").read_text())
    score = entry["score"]
    assert entry["version"] is None and score["humaneval_n"] == 1
    assert score["humaneval_passed"] in (0, 1)
    assert score["details"]["humaneval_task_ids"] == ["HumanEval/0"]
    assert math.isfinite(score["heldout_loss"]) and score["heldout_loss"] > 0
    report = render_report(session.run_dir)
    text = report.markdown.read_text()
    assert "## forget" in text and "base model" in text
    assert (report.directory / "forgetting.png").read_bytes()[:4] == b"\x89PNG"
