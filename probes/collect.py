"""Collecting the dataset: features recorded while a run goes, rows written after it ends.

- `RecordingMonitor` wraps the run's monitor (usually `AcceptAll`, or the current
  probe when collecting on-policy) and keeps every assessed step's features — all the
  dataset's poolings of the capture layer, plus the baselines. Hidden states are not
  persisted in the trajectory, so this is where they are caught.
- `rows_from_trajectory` turns the finished trajectory, the recorded features and the
  repository's labels into a `Shard` (probes.dataset), with each row's history being
  exactly the kept steps the monitor saw when it assessed that step.

The loop that runs tasks to collect from (`engram probes collect`) comes with the
agent's end-to-end runner; everything it needs to write is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.monitor import Monitor, MonitorInput
from agent.types import ProbeReading, Step, Trajectory
from probes.dataset import Shard, StepRow
from probes.features import (
    DATASET_POOLINGS,
    NoFeatures,
    Pooling,
    baselines,
    hidden_of,
    message_sha,
    step_key,
)
from probes.labels import Labeler, label_code, monitor_histories, run_verified


@dataclass
class FeatureRecord:
    layer: int
    views: dict[str, np.ndarray]  # pooling name → float32 [hidden]
    n_tokens: int
    mean_entropy: float | None
    min_logprob: float | None


def record_of(
    generation, layer: int, poolings: Sequence[Pooling] = DATASET_POOLINGS
) -> FeatureRecord:
    """All poolings of one generation's states (raises NoFeatures with the reason)."""
    states = hidden_of(generation, layer)
    mean_entropy, min_logprob = baselines(generation)
    return FeatureRecord(
        layer=layer, views={p.name: p.pool(states) for p in poolings}, n_tokens=states.shape[0],
        mean_entropy=mean_entropy, min_logprob=min_logprob,
    )  # fmt: skip


class RecordingMonitor:
    """A Monitor that records features and leaves every decision to the one it wraps."""

    def __init__(self, inner: Monitor, layer: int, poolings: Sequence[Pooling] = DATASET_POOLINGS):
        self.inner = inner
        self.layer = layer
        self.poolings = tuple(poolings)
        self.name = f"recording({inner.name})"
        self.records: dict[str, FeatureRecord] = {}
        self.missing: dict[str, str] = {}  # step key → why no features

    def assess(self, item: MonitorInput) -> ProbeReading:
        key = step_key(item.step)
        if item.generation is None:
            self.missing[key] = "no generation (the run was resumed)"
        else:
            try:
                self.records[key] = record_of(item.generation, self.layer, self.poolings)
            except NoFeatures as exc:
                self.missing[key] = str(exc)
        return self.inner.assess(item)

    def reset(self) -> None:
        self.inner.reset()

    def replay(self, history: Sequence[Step]) -> None:
        self.inner.replay(history)


def rows_from_trajectory(
    trajectory: Trajectory,
    records: Mapping[str, FeatureRecord],
    labeler: Labeler,
    layer: int,
) -> Shard:
    """The dataset shard of one finished run. Steps without recorded features are left
    out (and out of the others' histories: the monitor could not have used them)."""
    steps = trajectory.steps
    labels = labeler.label_run(trajectory)
    histories = monitor_histories(steps)
    verified = run_verified(trajectory)
    row_of: dict[int, int] = {}
    rows: list[StepRow] = []
    picked: list[FeatureRecord] = []
    for pos, step in enumerate(steps):
        record = records.get(step_key(step))
        if record is None:
            continue
        if record.layer != layer:
            raise ValueError(f"step {step.index} was recorded at layer {record.layer}, not {layer}")
        row_of[pos] = len(rows)
        label = labels[pos]
        row = StepRow(
            run_id=trajectory.run_id, position=pos, step_index=step.index,
            label=label_code(label), label_source=label.source, reasons=label.reasons,
            run_verified=verified, kept=step.kept, resampled=step.resampled,
            rolled_back=step.rolled_back,
            decision=step.readings[-1].decision.value if step.readings else None,
            history=[row_of[p] for p in histories[pos] if p in row_of],
            repo_id=trajectory.repo_id, task_id=trajectory.task.id,
            model_id=trajectory.model_id, adapter_version=trajectory.adapter_version,
            message_sha=message_sha(step), tool=step.action.name if step.action else "",
        )  # fmt: skip
        rows.append(row)
        picked.append(record)
    names = list(picked[0].views) if picked else []
    return Shard(
        run_id=trajectory.run_id, model_id=trajectory.model_id, layer=layer, rows=rows,
        pooled={n: np.stack([r.views[n] for r in picked]) for n in names},
        mean_entropy=_column([r.mean_entropy for r in picked]),
        min_logprob=_column([r.min_logprob for r in picked]),
        n_tokens=np.array([r.n_tokens for r in picked], dtype=np.int32),
    )  # fmt: skip


def _column(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float32)
