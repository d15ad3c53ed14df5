"""probes.plots: a run's scores as a PNG and as terminal sparklines, with resamples and
rollbacks marked."""

from __future__ import annotations

import struct

from agent.types import Decision, Observation, ProbeReading, Step, StepLabel, Task, Trajectory
from probes.plots import plot_run, run_series, sparkline

REASON = "prefix score 0.81 > 0.60"


def _step(index, step_score, prefix_score, decision=Decision.ACCEPT, ran=True, **kw) -> Step:
    reading = ProbeReading(step_score=step_score, prefix_score=prefix_score, step_threshold=0.7,
                           prefix_threshold=0.6, decision=decision)  # fmt: skip
    return Step(index=index, message="m", readings=[reading],
                observation=Observation(text="ok") if ran else None, **kw)  # fmt: skip


def _trajectory() -> Trajectory:
    steps = [
        _step(0, 0.10, 0.10),
        _step(1, 0.90, 0.40, Decision.RESAMPLE, ran=False, resampled=True, reason="step score"),
        _step(2, 0.50, 0.45, rolled_back=True, reason=f"rolled back: {REASON}",
              label=StepLabel(hallucinated=True, source="grounding")),
        _step(3, 0.60, 0.81, Decision.ROLLBACK, ran=False, rolled_back=True, reason=f"not run: {REASON}"),
        _step(4, 0.20, 0.30),
    ]  # fmt: skip
    return Trajectory(run_id="r", task=Task(id="t", repo=".", problem_statement="p"),
                      repo_id="x", model_id="m", backend="fake", steps=steps)  # fmt: skip


def test_the_series_marks_every_kind_of_step():
    s = run_series(_trajectory())
    assert s.step == [0.10, 0.90, 0.50, 0.60, 0.20]
    assert (s.resampled, s.undone, s.rollbacks, s.hallucinated) == ([1], [2], [3], [2])
    assert (s.step_threshold, s.prefix_threshold) == (0.7, 0.6)


def test_sparkline_has_one_character_per_step_and_a_marks_row():
    lines = sparkline(_trajectory()).splitlines()
    assert lines[0].startswith("step   ") and "threshold 0.70" in lines[0]
    assert lines[0][7:12] == "▁█▅▅▂"
    assert lines[1][7:12] == "▁▄▄▇▃"
    assert lines[2] == "marks   ru↺"


def test_sparkline_is_empty_without_scores():
    t = _trajectory()
    for s in t.steps:
        s.readings = [ProbeReading(reason="probes off: no teacher")]
    assert sparkline(t) == ""


def test_plot_writes_a_png(tmp_path):
    path = plot_run(_trajectory(), tmp_path / "plots" / "run.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 600 and height >= 300
