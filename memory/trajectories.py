"""TrajectoryStore: runs on disk, written step by step.

Layout per run (`ENGRAM_HOME/runs/<run-id>/`):

    trajectory.json   the run's header while it runs (task, model, adapter, …) and the
                      complete trajectory once it ends; replaced atomically
    steps.jsonl       one Step per line, appended and fsynced as each step completes,
                      so a killed process loses at most the step in flight
    patch.diff        the final diff (written at the end)

`load` merges the two, so a run that never finished still reads as a trajectory
whose `exit_status` is None. Files are JSON only — no pickle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from agent import atomic
from agent.types import FORMAT_VERSION, Step, Trajectory


class TrajectoryError(RuntimeError):
    user_facing = True


class TrajectoryStore:
    def __init__(self, runs_dir: Path):
        self.runs_dir = runs_dir

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def _header_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "trajectory.json"

    def _steps_path(self, run_id: str) -> Path:
        return self.run_dir(run_id) / "steps.jsonl"

    def begin(self, trajectory: Trajectory) -> None:
        """Write the header of a new run (no steps yet)."""
        run_dir = self.run_dir(trajectory.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        header = trajectory.model_copy(update={"steps": []})
        atomic.write_text(self._header_path(trajectory.run_id), header.model_dump_json(indent=2))
        self._steps_path(trajectory.run_id).touch()

    def append_step(self, run_id: str, step: Step) -> None:
        line = step.model_dump_json() + "\n"
        with self._steps_path(run_id).open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())

    def rewrite_steps(self, run_id: str, steps: list[Step]) -> None:
        """Replace the step log (resume: drop steps that the checkpoint does not know)."""
        text = "".join(s.model_dump_json() + "\n" for s in steps)
        atomic.write_text(self._steps_path(run_id), text)

    def update_header(self, trajectory: Trajectory) -> None:
        header = trajectory.model_copy(update={"steps": []})
        atomic.write_text(self._header_path(trajectory.run_id), header.model_dump_json(indent=2))

    def finish(self, trajectory: Trajectory) -> None:
        """Write the complete trajectory (with steps) and the patch."""
        atomic.write_text(
            self._header_path(trajectory.run_id), trajectory.model_dump_json(indent=2)
        )
        self.rewrite_steps(trajectory.run_id, trajectory.steps)
        atomic.write_text(self.run_dir(trajectory.run_id) / "patch.diff", trajectory.final_diff)

    def _read_steps(self, run_id: str) -> list[Step]:
        path = self._steps_path(run_id)
        steps: list[Step] = []
        if not path.exists():
            return steps
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                steps.append(Step.model_validate_json(line))
            except ValueError:
                break  # a torn last line from a kill mid-write: everything before it stands
        return steps

    def load(self, run_id: str) -> Trajectory:
        path = self._header_path(run_id)
        if not path.is_file():
            raise TrajectoryError(
                f"no run '{run_id}' under {self.runs_dir} (see `engram runs list`)"
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise TrajectoryError(
                f"{path} has format_version {version}; this engram reads {FORMAT_VERSION}"
            )
        trajectory = Trajectory.model_validate(data)
        if trajectory.exit_status is None or not trajectory.steps:
            trajectory.steps = self._read_steps(run_id)
        return trajectory

    def save(self, trajectory: Trajectory) -> None:
        """Rewrite a finished trajectory (e.g. the bot marking it verified by a merge)."""
        atomic.write_text(
            self._header_path(trajectory.run_id), trajectory.model_dump_json(indent=2)
        )

    def run_ids(self) -> list[str]:
        if not self.runs_dir.is_dir():
            return []
        found = [p.parent.name for p in self.runs_dir.glob("*/trajectory.json")]
        return sorted(found, key=lambda r: self._header_path(r).stat().st_mtime)

    def __iter__(self) -> Iterator[Trajectory]:
        for run_id in self.run_ids():
            try:
                yield self.load(run_id)
            except (TrajectoryError, ValueError):
                continue
