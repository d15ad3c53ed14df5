"""PNG plots of bench results (matplotlib, Agg: no display needed).

Every rate is drawn with its 95 % Wilson interval as an error bar or a band. Inputs are
plain numbers from the track summaries, so plots re-render from stored results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

COLOURS = ("#3b6ea8", "#d1793b", "#4f9a5a", "#a8443b", "#7a5ea8", "#8a8a8a")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _interval(r: Mapping[str, Any]) -> tuple[float, float, float]:
    """(rate, distance to low, distance to high) in percent; zeros for an empty rate."""
    if not r.get("n"):
        return 0.0, 0.0, 0.0
    value = 100 * r["rate"]
    return value, value - 100 * r["low"], 100 * r["high"] - value


def rate_bars(rates: Mapping[str, Mapping[str, Any]], path: Path, title: str,
              ylabel: str = "resolved (%)") -> Path:  # fmt: skip
    """One bar per arm (a `Rate` as a dict each), with Wilson error bars and k/n labels."""
    plt = _pyplot()
    names = list(rates)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(names) + 1.5), 3.6))
    values, lows, highs = (
        zip(*(_interval(rates[n]) for n in names), strict=True) if names else ((), (), ())
    )
    xs = range(len(names))
    ax.bar(xs, values, color=[COLOURS[i % len(COLOURS)] for i in xs], width=0.6,
           yerr=[lows, highs], capsize=5, ecolor="#333333")  # fmt: skip
    for x, name in zip(xs, names, strict=True):
        r = rates[name]
        ax.annotate(f"{r.get('k', 0)}/{r.get('n', 0)}", (x, 1.5), ha="center", fontsize=8,
                    color="white" if values[x] > 8 else "#333333")  # fmt: skip
    ax.set_xticks(list(xs), names, rotation=15 if len(names) > 4 else 0)
    ax.set_ylim(0, 100)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def learning_curve(series: Mapping[str, Sequence[tuple[float, Mapping[str, Any]]]], path: Path,
                   title: str, xlabel: str = "verified examples learned from") -> Path:  # fmt: skip
    """Resolved rate (with a Wilson band) against the amount learned, one line per arm."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for i, (arm, points) in enumerate(series.items()):
        if not points:
            continue
        xs = [x for x, _ in points]
        mids, lows, highs = [], [], []
        for _, r in points:
            value, down, up = _interval(r)
            mids.append(value)
            lows.append(value - down)
            highs.append(value + up)
        colour = COLOURS[i % len(COLOURS)]
        ax.plot(xs, mids, marker="o", color=colour, label=arm)
        ax.fill_between(xs, lows, highs, color=colour, alpha=0.15)
    ax.set_ylim(0, 100)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("resolved on held-out tasks (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def forgetting_bars(entries: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """HumanEval pass@1 (Wilson bars) and held-out loss, base model vs each adapter.

    entries: {"label", "humaneval": Rate dict or None, "heldout_loss": float or None}."""
    plt = _pyplot()
    labels = [e["label"] for e in entries]
    fig, (left, right) = plt.subplots(1, 2, figsize=(max(6.4, 1.6 * len(labels) + 2), 3.6))
    xs = list(range(len(labels)))
    colours = [COLOURS[i % len(COLOURS)] for i in xs]
    rates = [_interval(e["humaneval"]) if e.get("humaneval") else (0.0, 0.0, 0.0) for e in entries]
    left.bar(xs, [r[0] for r in rates], color=colours, width=0.6,
             yerr=[[r[1] for r in rates], [r[2] for r in rates]], capsize=5)  # fmt: skip
    left.set_xticks(xs, labels, rotation=15)
    left.set_ylim(0, 100)
    left.set_ylabel("HumanEval subset pass@1 (%)")
    left.grid(axis="y", alpha=0.3)
    losses = [e.get("heldout_loss") for e in entries]
    right.bar(xs, [v if v is not None else 0.0 for v in losses], color=colours, width=0.6)
    for x, v in zip(xs, losses, strict=True):
        right.annotate("–" if v is None else f"{v:.3f}", (x, (v or 0) * 1.01), ha="center",
                       fontsize=8)  # fmt: skip
    right.set_xticks(xs, labels, rotation=15)
    right.set_ylabel("held-out code loss (nats/token, lower is better)")
    right.grid(axis="y", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def roc(curves: Mapping[str, Mapping[str, Any]], path: Path, title: str) -> Path:
    """ROC curves: {name: {"fpr": [...], "tpr": [...], "auroc": float | None}}."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.8, 4.6))
    ax.plot([0, 1], [0, 1], linestyle=":", color="#999999", label="chance")
    for i, (name, curve) in enumerate(curves.items()):
        if not curve.get("fpr"):
            continue
        auc = curve.get("auroc")
        label = f"{name} (AUROC {auc:.2f})" if auc is not None else name
        ax.plot(curve["fpr"], curve["tpr"], color=COLOURS[i % len(COLOURS)], label=label,
                drawstyle="steps-post")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (clean steps flagged)")
    ax.set_ylabel("true positive rate (hallucinated steps flagged)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def time_split(splits: Mapping[str, Mapping[str, float | None]], path: Path, title: str) -> Path:
    """Stacked bars: mean seconds per step in model / tools / monitor / framework, per arm."""
    plt = _pyplot()
    names = list(splits)
    parts = ("model_s", "tools_s", "monitor_s", "framework_s")
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(names) + 2.5), 3.6))
    bottoms = [0.0] * len(names)
    for i, part in enumerate(parts):
        values = [splits[n].get(part) or 0.0 for n in names]
        ax.bar(range(len(names)), values, bottom=bottoms, color=COLOURS[i], width=0.6,
               label=part.removesuffix("_s"))  # fmt: skip
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    ax.set_xticks(list(range(len(names))), names)
    ax.set_ylabel("seconds per step (mean)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)
