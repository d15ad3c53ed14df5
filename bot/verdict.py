"""A human's verdict on a run, written into its trajectory.

Trajectories are JSON files at `ENGRAM_HOME/runs/<run-id>/trajectory.json`.
`record_verdict` rewrites one crash-safely (`agent.atomic`: readers see the old file or
the new, never half of it) under an exclusive `fcntl` lock on a sidecar file, so two
verdicts arriving together (a redelivered webhook, two workers) cannot interleave a
read-modify-write. The lead's TrajectoryStore is meant to adopt this function.

The learning hook is the memory package's consolidation: with `bot.auto_learn` on, a
merged PR's run is learned from by `memory.learn.learn`, on the run's own workspace (the
bot's job clone is gone by then) under the run's repository id.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from agent import atomic
from agent.home import Home
from agent.types import FORMAT_VERSION, Trajectory, VerifiedBy

log = logging.getLogger(__name__)

TRAJECTORY_FILE = "trajectory.json"

LearnHook = Callable[..., Any]


class TrajectoryMissing(FileNotFoundError):
    pass


def trajectory_path(home: Home, run_id: str) -> Path:
    return home.run_dir(run_id) / TRAJECTORY_FILE


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    lock = path.with_name(f".{path.name}.lock")
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_trajectory(path: Path) -> Trajectory:
    if not path.is_file():
        raise TrajectoryMissing(f"no trajectory at {path}")
    trajectory = Trajectory.model_validate_json(path.read_text(encoding="utf-8"))
    if trajectory.format_version != FORMAT_VERSION:
        raise ValueError(f"{path}: trajectory format {trajectory.format_version} is not known")
    return trajectory


def record_verdict(
    path: Path, *, eligible: bool, verified_by: VerifiedBy | Literal["keep"] | None = "keep"
) -> Trajectory:
    """Set `eligible_for_learning` (and `verified_by`, unless "keep") and save atomically.

    Returns the updated trajectory. Idempotent: recording the same verdict twice
    leaves the same file.
    """
    if not path.is_file():
        raise TrajectoryMissing(f"no trajectory at {path}")
    with _locked(path):
        trajectory = load_trajectory(path)
        update: dict[str, Any] = {"eligible_for_learning": eligible}
        if verified_by != "keep":
            update["verified_by"] = verified_by
        updated = trajectory.model_copy(update=update)
        # Validate the update (model_copy does not), so a bad verified_by never reaches disk.
        updated = Trajectory.model_validate(updated.model_dump())
        atomic.write_text(path, updated.model_dump_json(indent=2))
        return updated


def resolve_learn_hook() -> LearnHook | None:
    """`hook(trajectory, home=Home)`: consolidate the repo a merged run belongs to, if this
    build has memory's `learn`."""
    try:
        module = importlib.import_module("memory.learn")
    except ImportError:
        return None
    learn = getattr(module, "learn", None)
    if not callable(learn):
        return None

    def hook(trajectory: Trajectory, home: Home) -> Any:
        from agent.config import load_config

        workspace = home.worktrees / trajectory.run_id
        if not (workspace / ".git").exists():
            raise LearnHookError(
                f"run {trajectory.run_id}'s workspace is gone, so there is no checkout to learn "
                f"from; run `engram learn --repo <a checkout of {trajectory.repo_id}>` by hand"
            )
        return learn(workspace, home, load_config().config, repo_id=trajectory.repo_id)

    return hook


class LearnHookError(RuntimeError):
    user_facing = True
