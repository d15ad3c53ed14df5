"""Compare bench runs cell by cell: the rows of a comparison matrix (policy, model,
decoding, pass@k) side by side, and each against the first on the tasks both ran.

Resolved rates of two arms on the same tasks are paired observations: a difference is
judged by the tasks one arm solved and the other did not (exact McNemar), not by
whether two intervals overlap. Reads stored results and trajectories only (no model),
so it works on finished, stopped and resumed runs alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from bench.results import BenchRunError
from bench.stats import Paired, Rate, paired, rate
from bench.summary import summarise_cell
from bench.tracks.base import RunView


class CellRow(BaseModel):
    """One cell of one run, as the comparison shows it."""

    model_config = ConfigDict(extra="forbid")

    run: str
    cell: str
    model: str
    policy: str
    settings: dict[str, Any]
    resolved: Rate  # the task's outcome: with best-of-k, whether any sample resolved it
    pass_at_1: Rate  # the first (greedy) sample alone
    k: int  # samples per task (1 without best-of)
    causes: dict[str, int]
    task_s_median: float | None
    outcomes: dict[str, bool]  # instance id → resolved


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: list[CellRow]
    paired: list[Paired | None]  # row i against row 0 (None for row 0)


# What distinguishes matrix arms: shown for every row, whatever differs.
SETTINGS = ("model.backend", "agent.constrained", "agent.best_of",
            "agent.max_steps", "model.temperature")  # fmt: skip


def _setting(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def cell_row(run_dir: Path, cell: str = "resolve", causes: dict[str, Any] | None = None) -> CellRow:
    """The named cell of a run (`resolve` for the resolve track; a learn arm such as
    `learn/bootstrap/r01/adapter` otherwise). `causes`: the run's failure causes per cell,
    when the caller already has them (they are counted from every trajectory of the run)."""
    from bench.report.render import failure_causes

    if not (run_dir / "run.json").is_file():
        raise BenchRunError(
            f"{run_dir} is not a bench run (no run.json): name a run under "
            "ENGRAM_HOME/bench/ or give the directory `engram bench run` wrote"
        )
    view = RunView.open(run_dir)
    parts = [] if cell == "resolve" else cell.split("/")
    results = view.cell(*parts)
    if not results:
        raise BenchRunError(f"{view.manifest.name}: no results in cell {cell!r}")
    summary = summarise_cell(cell, results.values())
    graded = [r for r in results.values() if r.status in ("resolved", "unresolved")]
    outcomes = {r.instance_id: r.status == "resolved" for r in graded}
    config = view.manifest.config
    k = int(_setting(config, "agent.best_of") or 1)
    first = [bool((r.extras or {}).get("pass@1", r.status == "resolved")) for r in graded]
    if causes is None:
        causes, _ = failure_causes(run_dir)
    return CellRow(
        run=view.manifest.name, cell=cell,
        model=view.manifest.model_id or str(_setting(config, "model.name")),
        policy=",".join(summary.policies) or str(_setting(config, "agent.policy")),
        settings={s: _setting(config, s) for s in SETTINGS},
        resolved=summary.resolved,
        pass_at_1=rate(sum(first), len(first)), k=k,
        causes=causes.get(cell, {}).get("causes", {}),
        task_s_median=summary.task_s_median, outcomes=outcomes,
    )  # fmt: skip


def compare(run_dirs: list[tuple[Path, str] | CellRow]) -> Comparison:
    """Rows for (run directory, cell) pairs — or rows already made, such as a record's
    (`bench.records`) — each paired with the first row."""
    if not run_dirs:
        raise BenchRunError("name at least one run to compare")
    from bench.report.render import failure_causes

    causes: dict[Path, dict[str, Any]] = {}  # once per run, however many of its cells
    rows = []
    for entry in run_dirs:
        if isinstance(entry, CellRow):
            rows.append(entry)
            continue
        path, cell = entry
        if path not in causes and (path / "run.json").is_file():
            causes[path] = failure_causes(path)[0]
        rows.append(cell_row(path, cell, causes.get(path)))
    pairs: list[Paired | None] = [None] + [paired(rows[0].outcomes, r.outcomes) for r in rows[1:]]
    return Comparison(rows=rows, paired=pairs)


def markdown(comparison: Comparison) -> list[str]:
    from bench.report import markdown as md

    rows = comparison.rows
    varying = [s for s in SETTINGS if len({str(r.settings.get(s)) for r in rows}) > 1]
    causes = sorted({c for r in rows for c in r.causes})
    header = ["run", "model", "policy", *varying, "pass@1 (Wilson 95 %)", "pass@k", *causes,
              "median s/task", f"vs {rows[0].run}: both / only this / only first (p)"]  # fmt: skip
    table = []
    for row, pair in zip(rows, comparison.paired, strict=True):
        vs = "–" if pair is None else (
            f"{pair.both} / {pair.only_b} / {pair.only_a} of {pair.tasks}"
            + (f" (p = {pair.p_value:.2f})" if pair.p_value is not None else "")
        )  # fmt: skip
        name = row.run if row.cell == "resolve" else f"{row.run} · {row.cell}"
        table.append([
            name, row.model.split("/")[-1], row.policy, *[row.settings.get(s) for s in varying],
            md.rate_text(row.pass_at_1.model_dump()),
            f"k={row.k}: {md.rate_text(row.resolved.model_dump())}" if row.k > 1 else "–",
            *[row.causes.get(c, 0) for c in causes],
            f"{row.task_s_median:.0f}" if row.task_s_median is not None else "–", vs,
        ])  # fmt: skip
    return md.table(header, table)
