"""`forget`: does learning a repository cost general coding skill?

The general evaluation (memory's: a fixed HumanEval subset, pass@1, the model's code run
in the Docker sandbox; and the loss on a fixed held-out corpus of Python code) of the
base model and of each adapter (`bench.tracks.versions`). Reported as pass@1 with a
Wilson interval and the loss, each adapter against the base: the forgetting bars.
`--humaneval-n` sets the subset size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import atomic
from bench.memory_ops import GeneralScore, MemoryOps
from bench.report import markdown as md
from bench.report import plots
from bench.stats import rate
from bench.tracks.base import RunView
from bench.tracks.versions import subjects, task_repo

if TYPE_CHECKING:
    from bench.session import Session


class ForgetTrack:
    name = "forget"

    def __init__(self, ops: MemoryOps | None = None):
        self.ops = ops

    def run(self, session: Session) -> None:
        self.ops = self.ops or session.memory_ops()
        n = int(session.track_options.get("humaneval_n", 8))
        repo_id, _ = task_repo(session)
        out = session.run_dir / "forget"
        for subject in subjects(session, self.ops, repo_id):
            path = out / f"{subject.key}.json"
            if path.is_file():
                continue
            session.note(f"forget: general evaluation of {subject.label}")
            score = self.ops.general_eval(subject.home, session.config, repo_id,
                                          subject.version, n)  # fmt: skip
            record = {"key": subject.key, "label": subject.label, "source": subject.source,
                      "version": subject.version, "repo_id": repo_id,
                      "score": score.model_dump(mode="json")}  # fmt: skip
            atomic.write_text(path, json.dumps(record, indent=2))

    def summarise(self, view: RunView) -> dict[str, Any]:
        entries = []
        for path in sorted(view.path("forget").glob("*.json")):
            record = json.loads(path.read_text())
            score = GeneralScore.model_validate(record["score"])
            human = (rate(score.humaneval_passed, score.humaneval_n).model_dump()
                     if score.humaneval_n else None)  # fmt: skip
            entries.append({"key": record["key"], "label": record["label"],
                            "source": record["source"], "version": record["version"],
                            "humaneval": human, "heldout_loss": score.heldout_loss,
                            "seconds": score.seconds})  # fmt: skip
        entries.sort(key=lambda e: (e["key"] != "base", e["key"]))
        base = next((e for e in entries if e["key"] == "base"), None)
        for e in entries:
            e["delta_pass"] = None
            e["delta_loss"] = None
            if base and e is not base:
                if e["humaneval"] and base["humaneval"]:
                    e["delta_pass"] = e["humaneval"]["rate"] - base["humaneval"]["rate"]
                if e["heldout_loss"] is not None and base["heldout_loss"] is not None:
                    e["delta_loss"] = e["heldout_loss"] - base["heldout_loss"]
        return {"entries": entries}

    def plots(self, summary: dict[str, Any], out: Path) -> dict[str, str]:
        if not summary["entries"]:
            return {}
        path = plots.forgetting_bars(summary["entries"], out / "forgetting.png",
                                     "general coding before and after consolidation")  # fmt: skip
        return {"forgetting": path.name}

    def markdown(self, summary: dict[str, Any], plots_made: dict[str, str]) -> list[str]:
        lines = ["## forget", ""]
        if not summary["entries"]:
            return [*lines, "No evaluation stored yet.", ""]
        rows = [[e["label"], md.rate_text(e["humaneval"]),
                 None if e["delta_pass"] is None else f"{100 * e['delta_pass']:+.1f} pts",
                 e["heldout_loss"], None if e["delta_loss"] is None else f"{e['delta_loss']:+.4f}",
                 md.seconds(e["seconds"])] for e in summary["entries"]]  # fmt: skip
        lines += md.table(["model", "HumanEval pass@1", "Δ vs base", "held-out loss",
                           "Δ loss", "time"], rows)  # fmt: skip
        lines.append("")
        lines += md.image("forgetting", plots_made, "forgetting")
        return lines
