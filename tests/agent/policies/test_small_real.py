"""The small-model policy with the real embedded model in the Docker sandbox, on the
graph tests' one-bug repository. It asserts the run completes with a saved trajectory
and a verification — not that the model fixes the bug."""

import pytest

from agent.types import ExitStatus
from tests.agent.graph.conftest import Harness

pytestmark = [pytest.mark.model, pytest.mark.docker, pytest.mark.slow]


def test_small_policy_completes_a_real_run(buggy_repo, task, hf_backend, sandbox_image):
    h = Harness(buggy_repo, task, "docker", **{"agent.policy": "small", "agent.max_steps": 8})
    t = h.runner.start(h.task, h.repo, h.handles(None, backend=hf_backend))
    assert t.policy == "small" and t.exit_status is not None
    assert t.exit_status != ExitStatus.ERROR, t.exit_reason
    saved = h.runner.store.load(t.run_id)
    assert saved.verification is not None and len(saved.steps) == len(t.steps) >= 2
    reproduce, choice = t.steps[:2]
    assert reproduce.actor == "harness" and reproduce.observation.tests.failed == 1
    # The model's pick is one of the candidates and is viewed with line numbers.
    assert choice.actor == "model" and choice.action.name == "view"
    assert choice.action.arguments["path"] == "pkg/core.py" and choice.prompt
    edits = [s for s in t.steps if s.action and s.action.name == "edit" and s.actor == "model"]
    assert all(s.action.arguments["new"].startswith("def ") for s in edits)
    if t.exit_status == ExitStatus.SUBMITTED:
        assert any(s.action.name == "run_tests" and s.observation.ok for s in t.steps)
