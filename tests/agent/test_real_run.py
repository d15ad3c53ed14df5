"""A real run: the embedded model, the Docker sandbox, the bundled example with a bug.

Asserts that the run completes with a saved trajectory and a recorded verification —
not that the small model fixes the bug (how often it does is measured in
scripts/bench_agent.py and reported in docs/agent.md).
"""

import pytest

from agent.assembly import build_handles, make_backend
from agent.config import load_config
from agent.examples import commit_all, materialize
from agent.home import Home
from agent.run import Runner
from agent.types import ExitStatus, Task
from memory.trajectories import TrajectoryStore
from sandboxes.repo import repo_identity

pytestmark = [pytest.mark.model, pytest.mark.docker, pytest.mark.slow]


def test_embedded_model_runs_to_the_end_in_docker(tmp_path, embedded_model_dir, sandbox_image):
    repo = materialize("ledger", tmp_path / "ledger")
    path = repo / "src/ledger/dates.py"
    path.write_text(
        path.read_text().replace("return (day.month - 1) // 3 + 1", "return day.month // 3 + 1")
    )
    commit_all(repo, "a bug")
    task = Task(id="real-run", repo=str(repo), problem_statement=(
        "quarter_of(date(2024, 3, 1)) returns 2 instead of 1; "
        "tests/test_dates.py::test_calendar_helpers fails."),
        fail_to_pass=["tests/test_dates.py::test_calendar_helpers"])  # fmt: skip
    config = load_config(flags={"sandbox.kind": "docker", "agent.max_steps": 2, "agent.max_resamples": 1,
                                "model.max_new_tokens": 160, "agent.repo_map_tokens": 300}).config  # fmt: skip
    home = Home.resolve()
    backend = make_backend(config, home)
    try:
        handles = build_handles(config, home, task, repo_identity(repo).id, backend)
        trajectory = Runner(home, config).start(task, repo, handles)
    finally:
        backend.close()
    assert trajectory.exit_status in set(ExitStatus) - {ExitStatus.ERROR, ExitStatus.INTERRUPTED}
    assert trajectory.verification is not None and trajectory.verification.command
    assert trajectory.model_id == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    assert trajectory.steps and all(
        s.tokens.completion_tokens > 0 for s in trajectory.steps if s.actor == "model"
    )
    saved = TrajectoryStore(home.runs).load(trajectory.run_id)
    assert saved.exit_status == trajectory.exit_status and len(saved.steps) == len(trajectory.steps)
