"""Render a run's report from its directory: report.json, report.md and the PNGs.

Works on any run, finished or not (a report of a half-done run says how many tasks
have results), and needs neither the model nor a sandbox. The Markdown opens with
the exact command, the engram commit, the task set and the settings that produced it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent import atomic
from agent.types import utcnow
from bench.report import markdown as md
from bench.results import RunManifest
from bench.tracks import get_track
from bench.tracks.base import RunView

# Settings worth a line in the report's header (the full config is in report.json).
KEY_SETTINGS = (
    "model.name", "model.backend", "model.temperature", "model.max_new_tokens",
    "model.context_tokens", "model.threads", "agent.policy", "agent.best_of",
    "agent.max_steps", "agent.max_wall_s", "agent.action_format", "agent.constrained",
    "agent.repo_map_tokens", "probes.enabled", "memory.use_adapter", "sandbox.kind",
)  # fmt: skip


@dataclass
class ReportFiles:
    directory: Path
    json: Path
    markdown: Path
    plots: list[Path]


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    return {f"{s}.{k}": v for s, keys in config.items() if isinstance(keys, dict)
            for k, v in keys.items()}  # fmt: skip


def header(m: RunManifest, tracks_done: dict[str, Any]) -> list[str]:
    settings = _flat(m.config)
    lines = [f"# engram bench — {m.name}", ""]
    if m.oracle:
        lines += ["> **Oracle run**: the \"model\" replays each task's gold patch. It checks "
                  "the harness; its rates are not a model's.", ""]  # fmt: skip
    lines += [
        "Produced by:", "", "```", shlex.join(m.command) if m.command else "(command not recorded)",
        "```", "",
        f"- engram commit: `{m.engram_commit or 'unknown'}`; started {m.created_at:%Y-%m-%d %H:%M} UTC"
        + (f", resumed {len(m.resumed)}×" if m.resumed else ""),
        f"- tasks: {len(m.task_ids)} from `{m.tasks_file}` (sha256 `{m.tasks_file_sha256[:16]}…`), "
        f"split {m.split or 'all'}, limit {m.limit or '–'}; task-set hash `{m.task_set_hash[:16]}…`",
        f"- seed {m.seed}; workers {m.workers}; tracks {', '.join(m.tracks)}",
        f"- model: {m.model_id or settings.get('model.name')} via {m.backend or settings.get('model.backend')}",
    ]  # fmt: skip
    if m.options:
        lines.append("- options: " + ", ".join(f"{k}={v}" for k, v in sorted(m.options.items())))
    lines.append("")
    lines += md.table(["setting", "value"], [[k, settings.get(k)] for k in KEY_SETTINGS
                                             if k in settings], right=set())  # fmt: skip
    lines.append("")
    return lines


def render_report(run_dir: Path, out: Path | None = None) -> ReportFiles:
    view = RunView.open(run_dir)
    out = out or run_dir / "report"
    out.mkdir(parents=True, exist_ok=True)
    m = view.manifest
    summaries: dict[str, Any] = {}
    plot_files: dict[str, dict[str, str]] = {}
    for name in m.tracks:
        track = get_track(name)
        summaries[name] = track.summarise(view)
        plot_files[name] = track.plots(summaries[name], out)
    causes, causes_missing = failure_causes(run_dir)
    report = {
        "run": m.model_dump(mode="json"),
        "rendered_at": utcnow().isoformat(),
        "tracks": summaries,
        "plots": plot_files,
        "failure_causes": causes,
    }
    json_path = out / "report.json"
    atomic.write_text(json_path, json.dumps(report, indent=2, default=str) + "\n")
    lines = header(m, summaries)
    for name in m.tracks:
        lines += get_track(name).markdown(summaries[name], plot_files[name])
    lines += causes_markdown(causes, causes_missing)
    md_path = out / "report.md"
    atomic.write_text(md_path, "\n".join(lines).rstrip() + "\n")
    pngs = [out / f for files in plot_files.values() for f in files.values()]
    return ReportFiles(out, json_path, md_path, pngs)


def failure_causes(run_dir: Path) -> tuple[dict[str, Any], str | None]:
    """Per cell, the failed runs' primary causes (`bench.taxonomy`), or why there are none."""
    from agent.home import Home
    from bench.taxonomy import run_taxonomy

    try:  # the resolve track keeps its runs in the bench home's runs/
        return run_taxonomy(run_dir, [Home.resolve().runs]), None
    except (OSError, ValueError) as exc:  # the task file moved, a trajectory unreadable
        return {}, f"{type(exc).__name__}: {exc}"


def causes_markdown(cells: dict[str, Any], missing: str | None) -> list[str]:
    from bench.taxonomy import CAUSES

    lines = ["## Failure causes", ""]
    if missing:
        return [*lines, f"Not counted: {missing}", ""]
    if not cells:
        return [*lines, "No graded runs yet.", ""]
    lines += ["The primary cause of each graded, unresolved run, counted from its trajectory "
              "(`bench/taxonomy.py`; the bug's lines come from the gold patch, after the run).",
              ""]  # fmt: skip
    extra = sorted({c for cell in cells.values() for c in cell["causes"]} - set(CAUSES))
    rows = [[name, cell["graded"], cell["resolved"],
             *[cell["causes"].get(c, 0) for c in (*CAUSES, *extra)]]
            for name, cell in cells.items()]  # fmt: skip
    return lines + md.table(["cell", "graded", "resolved", *CAUSES, *extra], rows) + [""]
