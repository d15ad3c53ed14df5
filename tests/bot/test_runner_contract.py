"""The AgentRunner contract (bot/runner.py), checked against every implementation.

Each implementation provides three scenarios on the same small repository: `fix` (changes
widgets/core.py and finishes), `nothing` (finishes without a change), and `slow` (would
take longer than the wall limit). Implementations: ScriptedRunner (the fake used to unit-test the bot) and the real agent
graph behind `bot.agent_runner` (driven by a scripted model, in the Docker sandbox).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent.home import Home
from agent.types import ExitStatus, Task, Trajectory
from bot.fake_runner import RunScript, ScriptedRunner
from bot.runner import AgentRunner, RunLimits
from sandboxes.gitcmd import git
from tests.bot.conftest import BUGGY, FIXED, passing_verification
from tests.conftest import make_git_repo


def scripted(scenario: str, home: Home) -> AgentRunner:
    scripts = {
        "fix": RunScript(edits={"widgets/core.py": FIXED}, verification=passing_verification()),
        "nothing": RunScript(edits={}),
        "slow": RunScript(edits={"widgets/core.py": FIXED}, delay_s=30.0),
        "many": RunScript(edits={"a.py": "a = 1\n", "b.py": "b = 1\n", "c.py": "c = 1\n"}),
    }
    return ScriptedRunner(scripts[scenario], home)


def agent_graph(scenario: str, home: Home) -> AgentRunner:
    """The real agent (graph, tools, Docker sandbox) driven by a scripted model."""
    from agent.backends.fake import FakeBackend
    from agent.config import load_config
    from bot.agent_runner import AgentGraphRunner

    write = "```bash\nprintf 'def add(a, b):\\n    return a + b\\n' > widgets/core.py\n```"
    submit = "Done.\n```submit\n```"
    scripts = {
        "fix": [write, "```run_tests\n```", submit],
        "nothing": [submit, submit],
        "slow": ["```bash\nsleep 2\n```", "```bash\nsleep 2; echo again\n```", submit],
        "many": [f"```bash\necho {n} > {n}.py\n```" for n in "abc"] + [submit],
    }
    config = load_config(flags={"sandbox.kind": "docker", "agent.repo_map_tokens": 100}).config
    return AgentGraphRunner(config, backend=FakeBackend(scripts[scenario]))


RUNNERS: dict[str, Callable[[str, Home], AgentRunner]] = {
    "scripted": scripted, "agent-graph": agent_graph,
}  # fmt: skip

LIMITS = RunLimits(max_steps=10, max_wall_s=60)


@pytest.fixture(params=sorted(RUNNERS))
def make_runner(request, isolated_home) -> Callable[[str], AgentRunner]:
    return lambda scenario: RUNNERS[request.param](scenario, Home(isolated_home))


@pytest.fixture
def repo(tmp_path) -> Path:
    return make_git_repo(tmp_path / "repo", {"widgets/__init__.py": "", "widgets/core.py": BUGGY})


def task(repo: Path) -> Task:
    return Task(id="t1", repo=str(repo), problem_statement="add() subtracts", source="bot")


def test_is_an_agent_runner(make_runner):
    assert isinstance(make_runner("fix"), AgentRunner)


def test_result_is_a_commit_on_a_branch_of_repo_path(make_runner, repo):
    head = git(["rev-parse", "HEAD"], cwd=repo).strip()
    outcome = make_runner("fix").run(task(repo), repo, LIMITS)
    assert outcome.changed and outcome.base_commit == head
    assert git(["rev-parse", outcome.branch], cwd=repo).strip() == outcome.commit
    assert git(["rev-parse", f"{outcome.commit}^"], cwd=repo).strip() == head
    assert git(["show", f"{outcome.commit}:widgets/core.py"], cwd=repo) == FIXED
    assert outcome.diff == git(["diff", "--binary", head, outcome.commit], cwd=repo)


def test_checkout_of_repo_path_is_untouched(make_runner, repo):
    head = git(["rev-parse", "HEAD"], cwd=repo).strip()
    make_runner("fix").run(task(repo), repo, LIMITS)
    assert git(["rev-parse", "HEAD"], cwd=repo).strip() == head
    assert (repo / "widgets/core.py").read_text() == BUGGY
    assert git(["status", "--porcelain"], cwd=repo).strip() == ""


def test_trajectory_is_written(make_runner, repo):
    outcome = make_runner("fix").run(task(repo), repo, LIMITS)
    trajectory = Trajectory.model_validate_json(outcome.trajectory_path.read_text())
    assert trajectory.run_id == outcome.run_id
    assert trajectory.task.id == "t1"
    assert trajectory.exit_status == outcome.exit_status


def test_no_change_means_no_commit(make_runner, repo):
    outcome = make_runner("nothing").run(task(repo), repo, LIMITS)
    assert outcome.commit is None and not outcome.changed and outcome.diff == ""
    assert outcome.trajectory_path.is_file()


def test_wall_limit_ends_the_run_with_its_status(make_runner, repo):
    outcome = make_runner("slow").run(task(repo), repo, RunLimits(max_steps=10, max_wall_s=0.5))
    assert outcome.exit_status == ExitStatus.TIME_LIMIT
    assert outcome.trajectory_path.is_file()


def test_step_limit_ends_the_run_with_its_status(make_runner, repo):
    outcome = make_runner("many").run(task(repo), repo, RunLimits(max_steps=2, max_wall_s=60))
    assert outcome.exit_status == ExitStatus.STEP_LIMIT
    assert outcome.steps <= 2
