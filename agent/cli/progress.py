"""Live progress of a run in the terminal: one line per step, its action, outcome,
timings and probe readings; resamples and rollbacks marked."""

from __future__ import annotations

from typing import Any

from agent.graph.context import Event
from agent.types import Step, Trajectory


def _action_text(step: Step) -> str:
    if step.format_error is not None:
        return "[red]malformed reply[/]"
    if step.action is None:
        return "?"
    args = " ".join(f"{k}={_short(v)}" for k, v in step.action.arguments.items())
    return f"[bold]{step.action.name}[/] {args}"


def _short(value: Any, limit: int = 48) -> str:
    text = str(value).replace("\n", "⏎")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reading_text(step: Step) -> str:
    if not step.readings:
        return ""
    r = step.readings[-1]
    if r.step_score is None and r.prefix_score is None:
        # Unscored and accepted: probes are off, which the run said once at its start.
        if r.decision == "accept":
            return ""
        return f"[dim]{r.decision}: {r.reason}[/]" if r.reason else ""
    parts = []
    if r.step_score is not None:
        parts.append(f"step {r.step_score:.2f}")
    if r.prefix_score is not None:
        parts.append(f"prefix {r.prefix_score:.2f}")
    return "[dim]probe " + " ".join(parts) + "[/]"


class ProgressPrinter:
    def __init__(self, console, verbose: bool = False):
        self.console = console
        self.verbose = verbose

    def __call__(self, event: Event) -> None:
        c = self.console
        step = event.step
        if event.kind == "executed" and step is not None:
            obs = step.observation
            ok = obs is not None and obs.ok
            mark = (
                "[green]ok[/]"
                if ok
                else f"[yellow]{(obs.error_kind if obs else None) or 'failed'}[/]"
            )
            t = step.timings
            c.print(f" step {step.index:>2}  {_action_text(step)}  {mark}  "
                    f"[dim]model {t.model_s:.1f}s tools {t.tools_s:.1f}s[/]  {_reading_text(step)}")  # fmt: skip
            if obs is not None:
                lines = obs.text.strip().splitlines()
                shown = lines if self.verbose else lines[:2]
                for line in shown:
                    c.print(f"         [dim]↳ {_short(line, 100)}[/]")
        elif event.kind == "resampled" and step is not None:
            c.print(
                f" step {step.index:>2}  [magenta]resampled[/] {_action_text(step)}  [dim]{event.text}[/]"
            )
        elif event.kind == "rolled_back":
            c.print(
                f"          [magenta]rolled back {event.data.get('undone', 0)} step(s)[/]  [dim]{event.text}[/]"
            )
        elif event.kind == "verified":
            passed = event.data.get("passed")
            c.print(
                f" verify   {'[green]passed[/]' if passed else '[red]failed[/]'}  [dim]{event.text}[/]"
            )
        elif event.kind == "note":
            c.print(f" [yellow]note:[/] {event.text}")


def summary(console, trajectory: Trajectory, run_dir) -> None:
    v = trajectory.verification
    kept = len(trajectory.kept_steps)
    dropped = len(trajectory.steps) - kept
    console.print()
    console.print(
        f"[bold]run {trajectory.run_id}[/]: {trajectory.exit_status} — {trajectory.exit_reason}"
    )
    console.print(f"  steps {kept} kept, {dropped} dropped; tokens {trajectory.usage.total}")
    if v is not None:
        state = "[green]passed[/]" if v.passed else "[red]failed[/]"
        console.print(f"  tests {state}: {v.summary}")
    if trajectory.branch and trajectory.final_diff:
        console.print(
            f"  branch [bold]{trajectory.branch}[/] in your repository; patch {run_dir / 'patch.diff'}"
        )
        console.print(
            f"  bring it into your checkout: [bold]engram runs apply {trajectory.run_id}[/]"
        )
    elif not trajectory.final_diff:
        console.print("  no changes were made")
