"""Probe features from bench runs: the collection loop `probes.collect` leaves to a runner.

`FeatureCollector` is a run hook: before a task's run it wraps the run's monitor in
`probes.collect.RecordingMonitor` (decisions stay the wrapped monitor's: probes on or
off as configured) and makes the backend capture the probe layer; after the run is
graded it labels the steps from the task's repository (`probes.labels.Labeler`; the
grade decides whether the run counts as verified) and writes the run's shard.

Where shards go is the caller's choice: the probe store's dataset for the model
(`engram bench run --collect-probes`, what `engram probes train` learns from) or the
run directory (the probe track's own figures, never mixed into training data).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from agent.home import Home
from agent.types import Trajectory
from bench.grading import Grade
from bench.runner import TaskContext


class CollectError(RuntimeError):
    user_facing = True
    stops_run = True


def probe_dataset_dir(home: Home) -> Callable[[str], Path]:
    """model id → the probe store's dataset directory for that model."""

    def where(model_id: str) -> Path:
        from probes.store import ProbeStore
        from probes.teacher import canonical_model_id

        return ProbeStore.for_home(home).data_dir(canonical_model_id(model_id))

    return where


def fixed_dir(path: Path) -> Callable[[str], Path]:
    return lambda model_id: path


class FeatureCollector:
    def __init__(self, target: Callable[[str], Path], layer: int | None = None):
        """`layer`: record this layer (the probe's, to score its runs); None: the layer
        of the probe in use, else `probes.layer`, else the default (two thirds deep)."""
        self.target = target
        self.layer = layer

    def before(self, ctx: TaskContext) -> None:
        from probes.collect import RecordingMonitor
        from probes.features import default_layer

        handles = ctx.handles
        if handles.capture_layer is None and not handles.backend.capabilities.hidden_states:
            raise CollectError(
                f"the {handles.backend.name} backend gives no hidden states and no probe "
                "teacher is in use: collect probe features with the hf backend"
            )
        layer = self.layer if self.layer is not None else handles.capture_layer
        if layer is None:
            layer = ctx.config.probes.layer
        if layer is None:
            layer = default_layer(int(handles.backend.num_layers))
        recorder = RecordingMonitor(handles.monitor, layer)
        handles.monitor = recorder
        handles.capture_layer = layer
        ctx.scratch["recorder"] = recorder

    def after(self, ctx: TaskContext, trajectory: Trajectory, grade: Grade) -> None:
        from probes.collect import rows_from_trajectory
        from probes.dataset import write_shard
        from probes.labels import CLEAN, HALLUCINATED

        recorder = ctx.scratch["recorder"]
        shard = rows_from_trajectory(trajectory, recorder.records, self._labeler(ctx),
                                     recorder.layer)  # fmt: skip
        missing = len(recorder.missing)
        # With best-of-k this runs once per sample, all under one recorder: the next
        # sample starts with nothing recorded, so a step key it shares with this sample
        # can never pick up this sample's features, and the counts add up over samples.
        recorder.records.clear()
        recorder.missing.clear()
        counts = {
            "probe_rows": len(shard.rows),
            "probe_hallucinated": sum(r.label == HALLUCINATED for r in shard.rows),
            "probe_clean": sum(r.label == CLEAN for r in shard.rows),
            "probe_missing": missing,
        }
        for key, n in counts.items():
            if n or key != "probe_missing":
                ctx.extras[key] = ctx.extras.get(key, 0) + n
        if shard.rows:
            path = write_shard(self.target(trajectory.model_id), shard)
            ctx.extras.setdefault("probe_shards", []).append(str(path))

    @staticmethod
    def _labeler(ctx: TaskContext):
        """Labels from the task checkout: the repository at the task's base commit."""
        from probes.labels import Labeler
        from tools.index import SymbolIndex

        return Labeler(SymbolIndex.for_repo(ctx.checkout, ctx.repo_id, home_root=ctx.home.root))
