"""The bot end to end with the real agent: webhook → queue → worker → the LangGraph agent
(real tools, Docker sandbox) driven by a scripted model → push, draft PR, comment → merge
marks the trajectory verified."""

from __future__ import annotations

import pytest

from agent.backends.fake import FakeBackend
from agent.config import load_config
from agent.home import Home
from bot.agent_runner import AgentGraphRunner
from bot.queue import JobState
from bot.worker import Worker
from memory.trajectories import TrajectoryStore
from tests.bot.conftest import FIXED, REPO, Deliverer
from tests.bot.test_end_to_end import _git_show

pytestmark = pytest.mark.docker

SCRIPT = [
    "Look at the code.\n```view\npath: widgets/core.py\n```",
    "It subtracts.\n```edit\npath: widgets/core.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
    "    return a + b\n>>>>>>> REPLACE\n```",
    "```run_tests\n```",
    "Fixed: `add` now adds.\n```submit\n```",
]


@pytest.fixture
def agent_ctx(make_ctx, sandbox_image):
    ctx = make_ctx()
    config = load_config(flags={"sandbox.kind": "docker", "agent.repo_map_tokens": 100}).config
    runner = AgentGraphRunner(config, backend=FakeBackend(list(SCRIPT)))
    ctx.runner_factory = lambda: runner
    return ctx


def test_labelled_issue_is_solved_by_the_agent_and_learned_from_on_merge(github, agent_ctx):
    deliver = Deliverer(agent_ctx)
    number = github.add_issue(REPO, "add() subtracts", "add(1, 2) returns -1", labels=[])
    assert (
        deliver("issues", github.labeled_event(REPO, number, "engram", "maintainer")).status_code
        == 202
    )
    job = Worker(agent_ctx, lease_s=60).run_once()
    assert job.state == JobState.DONE, job.error

    pull = next(iter(github.repos[REPO].pulls.values()))
    assert pull.draft and _git_show(github, pull.head_ref, "widgets/core.py") == FIXED
    assert "tests/test_core.py::test_add" in pull.body and "### Probe report" in pull.body
    assert len(github.repos[REPO].issues[number].comments) == 1

    store = TrajectoryStore(Home.resolve().runs)
    run_id = job.result["trajectory_path"].split("/")[-2]
    before = store.load(run_id)
    assert before.resolved and not before.eligible_for_learning  # tests alone do not teach
    assert [s.action.name for s in before.steps] == ["view", "edit", "run_tests", "submit"]

    deliver("pull_request", github.merge_pull(REPO, pull.number))
    assert Worker(agent_ctx).run_once().state == JobState.DONE
    after = store.load(run_id)
    assert after.verified_by == "human-merge" and after.eligible_for_learning
