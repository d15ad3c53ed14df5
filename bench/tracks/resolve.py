"""`resolve`: the agent on every selected task once; the resolved rate and how runs went.

Figures: resolved rate with its Wilson interval (graded tasks only), harness errors and
timeouts apart, format-error rate of the model's replies, steps, wall time per step split
into model / tools / monitor / framework (`Step.timings`), exit statuses, the grader's
patch statuses, and the rate per task group, difficulty and mutation kind.

With `--adapter DIR` every run uses that adapter version, whatever the task's repo
(another repo's adapter on these tasks: transfer). Without it no adapter is loaded.
With `--notes-from HOME` every run gets the repo notes kept in that ENGRAM_HOME (a
learn track's home, say), as the learn track's `notes` arm does.

With `--collect-probes` the runs' probe features are recorded (`bench.collect`) into the
probe store's dataset, which `engram probes train` learns from.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.report import markdown as md
from bench.report import plots
from bench.runner import Arm
from bench.summary import summarise_cell
from bench.tracks.base import RunView

if TYPE_CHECKING:
    from bench.session import Session


class ResolveTrack:
    name = "resolve"

    def run(self, session: Session) -> None:
        hooks = []
        if session.track_options.get("collect_probes"):
            from bench.collect import FeatureCollector, probe_dataset_dir

            hooks.append(FeatureCollector(probe_dataset_dir(session.home)))
        if session.track_options.get("adapter"):
            from bench.arms import FixedAdapterHook

            hooks.append(FixedAdapterHook(Path(session.track_options["adapter"])))
        if session.track_options.get("notes_from"):
            from agent.home import Home
            from bench.arms import NotesHook

            hooks.append(
                NotesHook(
                    session.memory_ops(), Home(root=Path(session.track_options["notes_from"]))
                )
            )
        session.runner().run(session.tasks, session.store(), Arm("resolve", hooks=hooks))

    def summarise(self, view: RunView) -> dict[str, Any]:
        results = view.cell()
        cell = summarise_cell("resolve", results.values())
        return {"cell": cell.model_dump(mode="json"), "selected": len(view.manifest.task_ids),
                "harness_failures": [
                    {"instance_id": r.instance_id, "status": r.status.value, "phase": r.phase,
                     "error": r.error} for r in results.values() if not r.status.graded
                ]}  # fmt: skip

    def plots(self, summary: dict[str, Any], out: Path) -> dict[str, str]:
        cell = summary["cell"]
        if not cell["graded"]:
            return {}
        made = {}
        groups = {"all": cell["resolved"], **{f"group {k}": v for k, v in cell["by_group"].items()},
                  **{f"{k} site(s)": v for k, v in cell["by_difficulty"].items()}}  # fmt: skip
        made["resolve_rates"] = plots.rate_bars(groups, out / "resolve_rates.png",
                                                "resolved rate (95 % Wilson interval)").name  # fmt: skip
        made["resolve_time"] = plots.time_split({"resolve": cell["per_step"]},
                                                out / "resolve_time.png",
                                                "wall time per step").name  # fmt: skip
        return made

    def markdown(self, summary: dict[str, Any], plots_made: dict[str, str]) -> list[str]:
        c = summary["cell"]
        lines = ["## resolve", "",
                 f"**Resolved: {md.rate_text(c['resolved'], 1)}** of graded tasks "
                 f"(95 % Wilson interval). {_done(c['tasks'], summary.get('selected'))}; "
                 f"{c['harness_errors']} harness errors and {c['harness_timeouts']} harness "
                 "timeouts are not counted against the model.", ""]  # fmt: skip
        lines += md.cell_rows({"resolve": c})
        lines += ["", f"- grader: patch {md.counts(c['patch_statuses'])}",
                  f"- runs with at least one malformed reply: {c['runs_with_format_errors']}",
                  f"- completion tokens per task (median): {c['completion_tokens_median']}",
                  f"- grading per task (median): {md.seconds(c['grading_s_median'])}",
                  f"- models: {', '.join(c['models']) or '–'}; policies: "
                  f"{', '.join(c['policies']) or '–'}", ""]  # fmt: skip
        for title, key in (("group", "by_group"), ("sites", "by_difficulty"), ("kind", "by_kind")):
            if c[key]:
                lines += md.table([title, "resolved"],
                                  [[k, md.rate_text(v)] for k, v in c[key].items()])  # fmt: skip
                lines.append("")
        lines += md.image("resolve_rates", plots_made, "resolved rate")
        lines += md.image("resolve_time", plots_made, "time per step")
        if summary["harness_failures"]:
            lines += ["Harness failures (not the model's):", ""]
            lines += md.table(["task", "status", "phase", "error"],
                              [[f["instance_id"], f["status"], f["phase"], (f["error"] or "")[:160]]
                               for f in summary["harness_failures"]], right=set())  # fmt: skip
            lines.append("")
        return lines


def _done(tasks: int, selected: int | None) -> str:
    if selected is None or tasks >= selected:
        return f"{tasks} tasks"
    return f"{tasks} of {selected} selected tasks have results (the run is not finished)"
