"""Markdown pieces shared by the tracks' report sections."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], right: set[int] | None = None
) -> list[str]:
    right = right if right is not None else set(range(1, len(header)))
    align = ["---:" if i in right else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def rate_text(r: Mapping[str, Any] | None, digits: int = 0) -> str:
    if not r or not r.get("n"):
        return "– (0)"
    fmt = f"{{:.{digits}f}}"
    return (f"{fmt.format(100 * r['rate'])} % ({r['k']}/{r['n']}; "
            f"{fmt.format(100 * r['low'])}–{fmt.format(100 * r['high'])})")  # fmt: skip


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f} s" if value < 10 else f"{value:.0f} s"


def counts(values: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items(), key=lambda kv: -kv[1])) or "–"


def image(name: str, plots: Mapping[str, str], alt: str) -> list[str]:
    return [f"![{alt}]({plots[name]})", ""] if name in plots else []


def cell_rows(cells: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The standard per-arm table of `bench.summary.CellSummary` dicts."""
    rows = []
    for name, c in cells.items():
        ps = c["per_step"]
        rows.append([
            name, c["tasks"], rate_text(c["resolved"]),
            f"{c['harness_errors']} / {c['harness_timeouts']}",
            rate_text(c["format_error_rate"], 1), c["steps_median"],
            seconds(ps.get("model_s")), seconds(ps.get("tools_s")), seconds(ps.get("framework_s")),
            seconds(c["task_s_median"]), seconds(c["harness_s_median"]), counts(c["exit_statuses"]),
        ])  # fmt: skip
    header = ["arm", "tasks", "resolved (95 % CI)", "harness errors / timeouts",
              "format errors (of replies)", "steps (median)", "model s/step", "tools s/step",
              "framework s/step", "task wall (median)", "harness overhead (median)",
              "exit statuses"]  # fmt: skip
    return table(header, rows)
