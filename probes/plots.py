"""Probe scores over a run's steps, with resamples and rollbacks marked.

Two renderings of the same series (`run_series`): a PNG (matplotlib, Agg canvas — no
pyplot, no global backend switch, no display needed) and a compact terminal block of
unicode sparklines that `engram runs show` prints under a run.

Every step of the trajectory is a point, in order, dropped ones included: a resampled
step never ran (marked r / ×), the step that triggered a rollback never ran (↺), and
the steps a rollback undid ran and were then undone (shaded / u). Scores are from the
step's last pre-action reading; a step the probes could not score is a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.types import Decision, Trajectory

BARS = "▁▂▃▄▅▆▇█"


@dataclass
class RunSeries:
    indices: list[int] = field(default_factory=list)  # each step's index, in order
    step: list[float | None] = field(default_factory=list)
    prefix: list[float | None] = field(default_factory=list)
    step_threshold: float | None = None
    prefix_threshold: float | None = None
    resampled: list[int] = field(default_factory=list)  # positions
    rollbacks: list[int] = field(default_factory=list)  # positions of steps that triggered one
    undone: list[int] = field(default_factory=list)  # positions of steps a rollback undid
    hallucinated: list[int] = field(default_factory=list)  # positions labelled hallucinated

    def __len__(self) -> int:
        return len(self.indices)


def run_series(trajectory: Trajectory) -> RunSeries:
    series = RunSeries()
    for pos, step in enumerate(trajectory.steps):
        pre = [r for r in step.readings if r.phase == "pre_action"]
        reading = pre[-1] if pre else None
        series.indices.append(step.index)
        series.step.append(reading.step_score if reading else None)
        series.prefix.append(reading.prefix_score if reading else None)
        if reading is not None and reading.step_threshold is not None:
            series.step_threshold = reading.step_threshold
        if reading is not None and reading.prefix_threshold is not None:
            series.prefix_threshold = reading.prefix_threshold
        ran = step.observation is not None
        if step.resampled:
            series.resampled.append(pos)
        elif step.rolled_back and not ran:
            series.rollbacks.append(pos)
        elif step.rolled_back:
            series.undone.append(pos)
        elif reading is not None and reading.decision == Decision.ROLLBACK:
            series.rollbacks.append(pos)  # a rollback refused by the budget still alarmed
        if step.label is not None and step.label.hallucinated:
            series.hallucinated.append(pos)
    return series


def _spark(values: list[float | None]) -> str:
    out = []
    for v in values:
        if v is None:
            out.append("·")
        else:
            clipped = min(1.0, max(0.0, v))
            out.append(BARS[min(len(BARS) - 1, int(clipped * len(BARS)))])
    return "".join(out)


def sparkline(trajectory: Trajectory) -> str:
    """A few lines for the terminal, one character per step (scores on a 0–1 scale):

    ```
    step   ▁▂▁█▃▁▂   threshold 0.73
    prefix ▁▁▂▅▆▃▂   threshold 0.61
    marks    r ↺u
    ```
    marks: r resampled, ↺ triggered a rollback, u undone by one, ! labelled hallucinated.
    Returns "" for a run without any probe scores."""
    s = run_series(trajectory)
    if not any(v is not None for v in [*s.step, *s.prefix]):
        return ""

    def thr(value: float | None) -> str:
        return f"   threshold {value:.2f}" if value is not None else ""

    lines = [f"step   {_spark(s.step)}{thr(s.step_threshold)}",
             f"prefix {_spark(s.prefix)}{thr(s.prefix_threshold)}"]  # fmt: skip
    marks = [" "] * len(s)
    for pos in s.hallucinated:
        marks[pos] = "!"
    for pos in s.undone:
        marks[pos] = "u"
    for pos in s.resampled:
        marks[pos] = "r"
    for pos in s.rollbacks:
        marks[pos] = "↺"
    if any(m != " " for m in marks):
        lines.append(f"marks  {''.join(marks).rstrip()}")
    return "\n".join(lines)


def plot_run(trajectory: Trajectory, path: Path, title: str | None = None) -> Path:
    """Write the run's probe scores as a PNG; returns the path."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    s = run_series(trajectory)
    fig = Figure(figsize=(max(6.0, 0.35 * len(s) + 2.0), 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    xs = list(range(len(s)))
    dropped = set(s.resampled) | set(s.rollbacks)

    def points(values: list[float | None], only_ran: bool) -> tuple[list[int], list[float]]:
        kept = [(x, v) for x, v in zip(xs, values, strict=True)
                if v is not None and not (only_ran and x in dropped)]  # fmt: skip
        return [x for x, _ in kept], [v for _, v in kept]

    for pos in s.undone:
        ax.axvspan(pos - 0.5, pos + 0.5, color="0.88", lw=0, zorder=0)
    # Lines join the steps that ran; a dropped step never entered the run, so it is a
    # marker on its own.
    for values, color, marker, label in ((s.step, "tab:blue", "o", "step score"),
                                         (s.prefix, "tab:orange", "s", "prefix score")):  # fmt: skip
        lx, ly = points(values, only_ran=True)
        ax.plot(lx, ly, marker + "-", color=color, ms=4, lw=1.2, label=label)
        ox, oy = points([values[p] if p in dropped else None for p in xs], only_ran=False)
        ax.plot(ox, oy, marker, color=color, ms=4, alpha=0.6)
    if s.step_threshold is not None:
        ax.axhline(s.step_threshold, color="tab:blue", ls="--", lw=0.8)
    if s.prefix_threshold is not None:
        ax.axhline(s.prefix_threshold, color="tab:orange", ls="--", lw=0.8)
    resampled = [(p, s.step[p]) for p in s.resampled if s.step[p] is not None]
    if resampled:
        ax.scatter(*zip(*resampled, strict=True), marker="x", s=60, color="tab:red", zorder=5,
                   label="resampled")  # fmt: skip
    rollbacks = [(p, s.prefix[p]) for p in s.rollbacks if s.prefix[p] is not None]
    if rollbacks:
        ax.scatter(*zip(*rollbacks, strict=True), marker="v", s=70, color="tab:purple",
                   zorder=5, label="rollback")  # fmt: skip
    if s.hallucinated:
        ax.scatter(s.hallucinated, [-0.04] * len(s.hallucinated), marker="|", s=80,
                   color="tab:red", clip_on=False, label="hallucinated (label)")  # fmt: skip
    handles, labels = ax.get_legend_handles_labels()
    if s.undone:
        from matplotlib.patches import Patch

        handles.append(Patch(color="0.88", label="undone by rollback"))
        labels.append("undone by rollback")
    ax.set_ylim(-0.06, 1.04)
    ax.set_xlim(-0.6, max(0.6, len(s) - 0.4))
    ax.set_xticks(xs)
    ax.set_xticklabels([str(i) for i in s.indices], fontsize=7)
    ax.set_xlabel("step")
    ax.set_ylabel("score")
    ax.set_title(title or f"run {trajectory.run_id}", fontsize=9)
    ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=4, frameon=False)  # fmt: skip
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path))
    return path
