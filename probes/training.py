"""Train, calibrate and evaluate a probe on a feature dataset.

Runs — never single steps — are split three ways, all runs of one task on the same
side (seeded; tasks with a verified run and tasks without are split separately so every
part gets some of each):

- train: the step probe and the prefix integrator are fitted on these runs' labelled
  steps (the L2 strength chosen by run-grouped cross-validation when not given);
- calibration: thresholds for the target false-alarm rate (probes.calibration);
- test: the figures on the card (AUROC of the probe and of the baselines, false alarms,
  detection lag). With too few runs for a test part the card says so and reports
  figures on the calibration runs, which flatter the thresholds (not the AUROCs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from agent.types import Model
from probes.calibration import Thresholds, calibrate
from probes.dataset import Dataset, DatasetError
from probes.features import DEFAULT_POOLING, Pooling, baseline_scores
from probes.inputs import DEFAULT_INPUTS, check, dataset_matrix
from probes.labels import UNKNOWN
from probes.metrics import auroc, detection_lag, false_alarm_rate, run_alarmed, summarize_lags
from probes.prefix import PrefixIntegrator
from probes.probe import ProbeCard, TrainedProbe, TrainingSummary, probe_id_for
from probes.step_probe import StepProbe

L2_GRID = (0.01, 0.1, 1.0, 10.0)
DEFAULT_L2 = 1.0


@dataclass
class TrainOptions:
    pooling: str = DEFAULT_POOLING.name
    inputs: str = DEFAULT_INPUTS  # probes.inputs: hidden | baselines | hidden+baselines
    decay: float = 0.7
    target_false_alarm: float = 0.05
    l2: float | None = None  # None: chosen by cross-validation over training runs
    calibration_share: float = 0.25
    test_share: float = 0.25
    seed: int = 0


@dataclass
class Split:
    train: list[str]
    calibration: list[str]
    test: list[str]


def task_groups(dataset: Dataset) -> dict[str, list[str]]:
    """Runs grouped by the task they ran (a run without a task id is its own group).

    The samples of one task (best-of-k, or the same task collected twice) share their
    prompt, repository region and often whole steps: a probe fitted on one of them and
    scored on another is scored on what it saw. Every split keeps a group together."""
    groups: dict[str, list[str]] = {}
    for shard in dataset.shards:
        task = next((r.task_id for r in shard.rows if r.task_id), "") or f"run:{shard.run_id}"
        groups.setdefault(task, []).append(shard.run_id)
    return groups


def task_of_runs(dataset: Dataset) -> dict[str, str]:
    """run id → its group in `task_groups`."""
    return {run: task for task, runs in task_groups(dataset).items() for run in runs}


def split_runs(dataset: Dataset, opts: TrainOptions) -> Split:
    rng = np.random.default_rng(opts.seed)
    verified = {row.run_id for row in dataset.rows if row.run_verified}
    groups = task_groups(dataset)
    parts: dict[str, list[str]] = {"train": [], "calibration": [], "test": []}
    # Tasks with a verified run and tasks without are split separately, so every part
    # gets clean steps (they come only from verified runs) where there are enough.
    for stratum in ([t for t, runs in groups.items() if verified & set(runs)],
                    [t for t, runs in groups.items() if not verified & set(runs)]):  # fmt: skip
        tasks = list(rng.permutation(sorted(stratum)))
        n = len(tasks)
        n_test = round(n * opts.test_share) if n >= 3 else 0
        n_cal = max(1 if n >= 2 else 0, round(n * opts.calibration_share))
        for name, chosen in (("test", tasks[:n_test]), ("calibration", tasks[n_test : n_test + n_cal]),
                             ("train", tasks[n_test + n_cal :])):  # fmt: skip
            parts[name] += [run for task in chosen for run in groups[str(task)]]
    return Split(**{k: sorted(str(r) for r in v) for k, v in parts.items()})


def unseen_runs(probe: TrainedProbe, dataset: Dataset) -> list[str]:
    """Runs of tasks the probe neither trained nor calibrated on. Unseen means an unseen
    *task*: another sample of a task it trained on shares the prompt and often whole
    steps, and a repeated greedy run is the very same run."""
    seen = set(probe.card.training.train_runs) | set(probe.card.training.calibration_runs)
    task_of = task_of_runs(dataset)
    seen_tasks = {task_of[r] for r in seen if r in task_of}
    return [r for r in dataset.run_ids if r not in seen and task_of[r] not in seen_tasks]


def rows_of(dataset: Dataset, runs: Sequence[str]) -> np.ndarray:
    wanted = set(runs)
    return np.array([i for i, r in enumerate(dataset.rows) if r.run_id in wanted], dtype=np.int64)


def choose_l2(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> float:
    """The L2 strength with the best mean held-out AUROC over folds of `groups` (tasks)."""
    tasks = np.unique(groups)
    if len(tasks) < 3:
        return DEFAULT_L2
    folds = np.array_split(np.random.default_rng(seed).permutation(tasks), min(3, len(tasks)))
    best, best_score = DEFAULT_L2, -np.inf
    for l2 in L2_GRID:
        scores = []
        for fold in folds:
            held = np.isin(groups, fold)
            if len(np.unique(y[held])) < 2 or len(np.unique(y[~held])) < 2:
                continue
            probe = StepProbe.fit(x[~held], y[~held], l2=l2)
            scores.append(auroc(probe.score(x[held]), y[held]))
        if scores and np.mean(scores) >= best_score:  # ties go to the stronger penalty
            best, best_score = l2, float(np.mean(scores))
    return best


class Evaluation(Model):
    """Figures of one probe on one set of runs (all scores: higher = more suspicious)."""

    runs: int
    steps: int
    hallucinated: int
    clean: int
    step_auroc: float | None
    entropy_auroc: float | None
    min_logprob_auroc: float | None
    prefix_auroc: float | None
    run_auroc: float | None  # max prefix score per run vs "the run had a hallucinated step"
    step_false_alarm: float | None  # clean steps that would be resampled
    prefix_run_false_alarm: float | None  # clean runs that would see a rollback
    detection_rate: float | None
    median_lag: float | None
    early_alarms: int

    def metrics(self) -> dict[str, float | None]:
        return {k: (float(v) if v is not None else None) for k, v in self.model_dump().items()}


def _nan_to_none(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def score_rows(
    probe: TrainedProbe, dataset: Dataset, x: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(step scores, prefix scores) of the given rows, each prefix over its history."""
    step = probe.step.score(x[rows]) if len(rows) else np.zeros(0)
    prefix = np.array([probe.prefix.score(seq) for seq, _ in dataset.sequences(x, rows)])
    return step, prefix


def evaluate(probe: TrainedProbe, dataset: Dataset, runs: Sequence[str]) -> Evaluation:
    x = dataset_matrix(dataset, probe.card.pooling, probe.card.inputs)
    rows = rows_of(dataset, runs)
    labels = dataset.labels[rows]
    step, prefix = score_rows(probe, dataset, x, rows)
    base = baseline_scores(dataset.baseline("mean_entropy"), dataset.baseline("min_logprob"))
    known = labels != UNKNOWN
    t = probe.card.thresholds
    run_of = dataset.run_of_row[rows]
    lags, run_max, run_bad, clean_runs_alarmed = [], [], [], []
    for run in dict.fromkeys(run_of):
        mine = run_of == run
        order = np.argsort([dataset.rows[i].position for i in rows[mine]], kind="stable")
        r_labels = labels[mine][order]
        alarm = np.maximum(step[mine][order] - t.step, prefix[mine][order] - t.prefix)
        lags.append(detection_lag(alarm, r_labels, 0.0))
        if (r_labels != UNKNOWN).any():
            run_max.append(float(prefix[mine].max()))
            run_bad.append(int((r_labels == 1).any()))
        verified = dataset.rows[rows[mine][0]].run_verified
        if verified and not (r_labels == 1).any():
            clean_runs_alarmed.append(run_alarmed(prefix[mine], t.prefix))
    lag = summarize_lags(lags)
    y = labels[known]
    return Evaluation(
        runs=len(set(run_of.tolist())), steps=int(known.sum()), hallucinated=int((y == 1).sum()),
        clean=int((y == 0).sum()),
        step_auroc=_nan_to_none(auroc(step[known], y)),
        entropy_auroc=_nan_to_none(auroc(base["entropy"][rows][known], y)),
        min_logprob_auroc=_nan_to_none(auroc(base["min_logprob"][rows][known], y)),
        prefix_auroc=_nan_to_none(auroc(prefix[known], y)),
        run_auroc=_nan_to_none(auroc(run_max, run_bad)) if run_max else None,
        step_false_alarm=_nan_to_none(false_alarm_rate(step[known][y == 0], t.step)),
        prefix_run_false_alarm=(
            float(np.mean(clean_runs_alarmed)) if clean_runs_alarmed else None
        ),
        detection_rate=_nan_to_none(lag.detection_rate), median_lag=lag.median_lag,
        early_alarms=lag.early,
    )  # fmt: skip


def train_probe(
    dataset: Dataset,
    model_id: str,
    opts: TrainOptions | None = None,
    *,
    model_sha256: str | None = None,
) -> tuple[TrainedProbe, Evaluation]:
    opts = opts or TrainOptions()
    Pooling.parse(opts.pooling)  # a bad spelling fails before any work
    check(opts.inputs)
    if not dataset.shards:
        raise DatasetError("the dataset is empty: collect runs first (`engram probes collect`)")
    x = dataset_matrix(dataset, opts.pooling, opts.inputs)
    labels = dataset.labels
    split = split_runs(dataset, opts)
    train_rows = rows_of(dataset, split.train)
    known = train_rows[labels[train_rows] != UNKNOWN]
    y = labels[known]
    if (y == 1).sum() == 0 or (y == 0).sum() == 0:
        raise DatasetError(
            f"the training runs have {(y == 1).sum()} hallucinated and {(y == 0).sum()} clean "
            "steps; a probe needs both. Collect more runs (verified ones give clean steps)."
        )
    task_of = task_of_runs(dataset)
    groups = np.array([task_of[dataset.rows[i].run_id] for i in known])
    l2 = opts.l2 if opts.l2 is not None else choose_l2(x[known], y, groups, opts.seed)
    step = StepProbe.fit(x[known], y, l2=l2)
    prefix = PrefixIntegrator.fit(dataset.sequences(x, train_rows), decay=opts.decay, l2=l2)
    cal_rows = rows_of(dataset, split.calibration)
    # Clean steps come only from verified runs; without any among the calibration runs the
    # thresholds fall back to the training runs (optimistic: the card says so).
    on_train = not (dataset.labels[cal_rows] == 0).any() if len(cal_rows) else True
    thresholds = calibrate_on_runs(
        step, prefix, dataset, x, split.train if on_train else split.calibration, opts
    )
    counts = dataset.counts()
    card = ProbeCard(
        probe_id=probe_id_for(model_id, step, prefix), model_id=model_id,
        model_sha256=model_sha256, layer=int(dataset.layer or 0), hidden_size=x.shape[1],
        pooling=opts.pooling, inputs=check(opts.inputs), decay=opts.decay, thresholds=thresholds,
        training=TrainingSummary(
            runs=counts["runs"], steps=counts["steps"], hallucinated=counts["hallucinated"],
            clean=counts["clean"], unknown=counts["unknown"], train_runs=split.train,
            calibration_runs=split.calibration, test_runs=split.test,
            data_hashes=dict(dataset.hashes), l2=l2, seed=opts.seed,
            calibrated_on_training_runs=on_train,
        ),
    )  # fmt: skip
    probe = TrainedProbe(card, step, prefix)
    evaluation = evaluate(probe, dataset, split.test or split.calibration or split.train)
    probe.card.metrics = {**evaluation.metrics(), "evaluated_on_test": float(bool(split.test))}
    return probe, evaluation


def calibrate_on_runs(
    step: StepProbe, prefix: PrefixIntegrator, dataset: Dataset, x: np.ndarray,
    runs: Sequence[str], opts: TrainOptions,
) -> Thresholds:  # fmt: skip
    rows = rows_of(dataset, runs)
    labels = dataset.labels[rows]
    clean = rows[labels == 0]
    if len(clean) == 0:
        raise DatasetError(
            "the calibration runs have no clean steps (kept steps of verified runs); collect "
            "more verified runs"
        )
    step_clean = step.score(x[clean])
    prefix_scores = np.array([prefix.score(seq) for seq, _ in dataset.sequences(x, rows)])
    run_of = dataset.run_of_row[rows]
    clean_runs = []
    for run in dict.fromkeys(run_of):
        mine = run_of == run
        if dataset.rows[rows[mine][0]].run_verified and not (labels[mine] == 1).any():
            clean_runs.append(prefix_scores[mine])
    return calibrate(step_clean, prefix_scores[labels == 0], clean_runs, opts.target_false_alarm)
