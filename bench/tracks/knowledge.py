"""`knowledge`: closed-book questions about the repository (memory's repo evaluation),
asked of the base model and of each adapter (`bench.tracks.versions`). Reported as
the share answered correctly with a Wilson interval, each adapter against the base.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import atomic
from bench.memory_ops import KnowledgeScore, MemoryOps
from bench.report import markdown as md
from bench.report import plots
from bench.stats import rate
from bench.tracks.base import RunView
from bench.tracks.versions import subjects, task_repo

if TYPE_CHECKING:
    from bench.session import Session


class KnowledgeTrack:
    name = "knowledge"

    def __init__(self, ops: MemoryOps | None = None):
        self.ops = ops

    def run(self, session: Session) -> None:
        self.ops = self.ops or session.memory_ops()
        repo_id, clean = task_repo(session)
        out = session.run_dir / "knowledge"
        for subject in subjects(session, self.ops, repo_id):
            path = out / f"{subject.key}.json"
            if path.is_file():
                continue
            session.note(f"knowledge: repo questions for {subject.label}")
            score = self.ops.repo_eval(
                subject.home, session.config, clean, repo_id, subject.version
            )
            record = {"key": subject.key, "label": subject.label, "source": subject.source,
                      "version": subject.version, "repo_id": repo_id,
                      "score": score.model_dump(mode="json")}  # fmt: skip
            atomic.write_text(path, json.dumps(record, indent=2))

    def summarise(self, view: RunView) -> dict[str, Any]:
        entries = []
        for path in sorted(view.path("knowledge").glob("*.json")):
            record = json.loads(path.read_text())
            score = KnowledgeScore.model_validate(record["score"])
            entries.append({"key": record["key"], "label": record["label"],
                            "source": record["source"], "version": record["version"],
                            "correct": rate(score.correct, score.questions).model_dump(),
                            "mean_score": score.mean_score, "seconds": score.seconds})  # fmt: skip
        entries.sort(key=lambda e: (e["key"] != "base", e["key"]))
        return {"entries": entries}

    def plots(self, summary: dict[str, Any], out: Path) -> dict[str, str]:
        if not summary["entries"]:
            return {}
        bars = {e["label"]: e["correct"] for e in summary["entries"]}
        path = plots.rate_bars(bars, out / "knowledge.png", "closed-book repo questions",
                               ylabel="answered correctly (%)")  # fmt: skip
        return {"knowledge": path.name}

    def markdown(self, summary: dict[str, Any], plots_made: dict[str, str]) -> list[str]:
        lines = ["## knowledge", ""]
        if not summary["entries"]:
            return [*lines, "No evaluation stored yet.", ""]
        rows = [[e["label"], md.rate_text(e["correct"]), e["mean_score"], md.seconds(e["seconds"])]
                for e in summary["entries"]]  # fmt: skip
        lines += md.table(["model", "correct (95 % CI)", "mean score", "time"], rows)
        lines.append("")
        lines += md.image("knowledge", plots_made, "knowledge")
        return lines
