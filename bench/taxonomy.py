"""Why a run failed, counted from its trajectory: the failure taxonomy of the policy work.

One primary cause per unresolved run, in this order:

- **premature submit** — the agent submitted and its own verification failed;
- with no applied model edit: **malformed** (format errors and refused edits dominate),
  **repetition** (repeats the loop guard resampled), else **wrong location** (it never
  got as far as editing anything);
- with applied edits: **wrong edit** if one of them rewrote a line the bug is on, else
  **wrong location**.

The bug's lines come from the task's gold patch (the lines it removes), read only here,
after the run; the agent never sees them. Without a gold patch there is no site to tell
a wrong edit from a wrong location, and a failed run with applied edits counts as a
wrong edit.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.types import Trajectory
    from bench.tasks import BenchTask

CAUSES = ("malformed", "repetition", "wrong location", "wrong edit", "premature submit")
MODEL_EDITS = ("edit", "create")


def bug_sites(patch: str | None) -> list[tuple[str, str]]:
    """(file, stripped text) of every line the gold patch removes: where the bug is."""
    sites: list[tuple[str, str]] = []
    current = ""
    for line in (patch or "").splitlines():
        if line.startswith("--- "):
            name = line[4:].strip()
            current = name[2:] if name.startswith("a/") else name
        elif line.startswith("-") and not line.startswith("---") and current:
            text = line[1:].strip()
            if text:
                sites.append((current, text))
    return sites


def step_counts(trajectory: Trajectory) -> dict[str, int]:
    steps = trajectory.steps
    edits = [s for s in steps if s.kept and s.action and s.action.name in MODEL_EDITS
             and s.actor == "model"]  # fmt: skip
    applied = [s for s in edits if s.observation and s.observation.ok]
    repeats = sum(1 for s in steps if s.repeat_of is not None)
    for s in steps:
        for note in s.notes:
            if note.startswith("loop guard:"):
                repeats += int(note.split()[2])
    return {"steps": len(steps), "malformed": sum(1 for s in steps if s.format_error)
            + len(edits) - len(applied), "repeats": repeats, "edits_applied": len(applied)}  # fmt: skip


def classify(trajectory: Trajectory, sites: list[tuple[str, str]]) -> str | None:
    """The run's primary failure cause; None when its verification passed."""
    if trajectory.verification and trajectory.verification.passed:
        return None
    if trajectory.exit_status == "submitted":
        return "premature submit"
    counts = step_counts(trajectory)
    if not counts["edits_applied"]:
        if counts["malformed"] and counts["malformed"] >= counts["repeats"]:
            return "malformed"
        return "repetition" if counts["repeats"] else "wrong location"
    if not sites:
        return "wrong edit"
    applied = [s for s in trajectory.steps if s.kept and s.actor == "model" and s.action
               and s.action.name in MODEL_EDITS and s.observation and s.observation.ok]  # fmt: skip
    for step in applied:
        args = step.action.arguments
        text = str(args.get("old", "")) + str(args.get("content", ""))
        path = str(args.get("path", ""))
        if any(path.endswith(f) and line in text for f, line in sites):
            return "wrong edit"
    return "wrong location"


# -- a bench run's cells ----------------------------------------------------------------


def _trajectories(run_dir: Path, runs_dirs: list[Path]) -> dict[str, Path]:
    """run id → its runs folder: the runs stored under the run (learn homes) and, for
    cells that keep theirs in the bench home (resolve), those of the given folders."""
    found = {p.parent.name: p.parent.parent for p in run_dir.rglob("trajectory.json")}
    for runs in runs_dirs:
        found.update({p.parent.name: runs for p in runs.glob("*/trajectory.json")
                      if p.parent.name not in found})  # fmt: skip
    return found


def run_taxonomy(run_dir: Path, runs_dirs: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    """Per cell of a bench run: graded tasks, resolved, and the causes of the rest.
    `runs_dirs`: runs folders outside the run directory to look in for trajectories."""
    from bench.results import ResultStore, load_manifest
    from bench.tasks import load_tasks
    from memory.trajectories import TrajectoryStore

    manifest = load_manifest(run_dir)
    tasks: dict[str, BenchTask] = {t.instance_id: t for t in load_tasks(Path(manifest.tasks_file))}
    where = _trajectories(run_dir, runs_dirs or [])
    cells: dict[str, dict[str, Any]] = {}
    for tasks_dir in sorted(run_dir.rglob("tasks")):
        inside = set(tasks_dir.relative_to(run_dir).parts)
        if inside & {"runs", "worktrees", "repos"} or not any(tasks_dir.glob("*.json")):
            continue  # a folder of the runs' own homes, not a cell
        cell_dir = tasks_dir.parent
        name = str(cell_dir.relative_to(run_dir)) if cell_dir != run_dir else "resolve"
        causes: Counter[str] = Counter()
        graded = resolved = 0
        for result in ResultStore(cell_dir, name).all().values():
            if result.status not in ("resolved", "unresolved") or not result.run_id:
                continue
            graded += 1
            if result.status == "resolved":
                resolved += 1
                continue
            runs = where.get(result.run_id)
            task = tasks.get(result.instance_id)
            if runs is None or task is None:
                causes["unknown (trajectory missing)"] += 1
                continue
            trajectory = TrajectoryStore(runs).load(result.run_id)
            causes[classify(trajectory, bug_sites(task.patch)) or "verified, not resolved"] += 1
        cells[name] = {"graded": graded, "resolved": resolved, "causes": dict(causes)}
    return cells
