"""Real verified runs (small policy, ledger) stored with the tests, and helpers around them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from agent.types import Trajectory

DATA = Path(__file__).parent / "data" / "verified_runs.jsonl.gz"


def stored_runs() -> list[Trajectory]:
    """Two verified runs of the embedded model on ledger: the first has a failed edit
    that the harness reverted before a second attempt passed."""
    with gzip.open(DATA, "rt", encoding="utf-8") as handle:
        return [Trajectory.model_validate(json.loads(line)) for line in handle if line.strip()]


def write_runs(runs_dir: Path, trajectories: list[Trajectory]) -> None:
    from memory.trajectories import TrajectoryStore

    store = TrajectoryStore(runs_dir)
    for t in trajectories:
        store.begin(t)
        store.finish(t)


def for_repo(t: Trajectory, repo_id: str, run_id: str | None = None, task_id: str | None = None,
             **extra) -> Trajectory:  # fmt: skip
    """A copy of a stored run as if it had been made on another repository."""
    task = t.task.model_copy(update={"id": task_id}) if task_id else t.task
    return t.model_copy(update={"repo_id": repo_id, "run_id": run_id or t.run_id, "task": task,
                                **extra}, deep=True)  # fmt: skip


def retold(t: Trajectory, repo_id: str, run_id: str, task_id: str) -> Trajectory:
    """A third distinct verified run: the same steps with every prompt's user turn extended
    (so its demonstration has other content, hence another id)."""

    def extend(message):
        if message.role != "user":
            return message
        return message.model_copy(update={"content": message.content + "\n(seen again)"})

    steps = [s.model_copy(update={"prompt": [extend(m) for m in s.prompt]}) if s.prompt else s
             for s in t.steps]  # fmt: skip
    return for_repo(t, repo_id, run_id=run_id, task_id=task_id, steps=steps)
