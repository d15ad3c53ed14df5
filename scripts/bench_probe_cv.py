"""Probe accuracy on real runs, cross-validated by task: AUROC with intervals, lag, alarms.

    .venv/bin/python scripts/bench_probe_cv.py [--model qwen2.5-coder-0.5b-instruct]
        [--data DIR ...] [--no-store] [--bench-run NAME ...] [--folds 5]
        [--pooling exp:0.25 | all] [--inputs hidden] [--json]

`engram probes train` holds out a quarter of the runs once; with the few dozen
hallucinated steps a day of this machine yields, one split's figures swing with the
split. Here every task is held out once: K folds over tasks (all samples of a task in
one fold, hallucination-bearing tasks dealt evenly), a step probe and a prefix
integrator fitted on the other folds exactly as `train_probe` fits them (L2 by
task-grouped CV, thresholds for the target false-alarm rate from the training folds'
clean steps and runs), and every held-out step scored once. On the pooled out-of-fold
scores it prints:

- step AUROC of the step probe, the prefix integrator and both baselines (mean token
  entropy, negated minimum logprob), with a 95 % interval from a bootstrap over tasks;
- at the calibrated thresholds: held-out clean steps that would alarm (a resample or a
  rollback), clean verified runs that would see a rollback, and detection rate / lag in steps over the
  runs with a hallucinated step.

`--inputs` chooses what the step probe and the integrator read (probes.inputs, as
`engram probes train --inputs`): `hidden` (the pooled hidden state, the default),
`baselines` (the step's min logprob and mean entropy only: a two-feature logistic fit)
or `hidden+baselines` (both).

`--data DIR` reads a further dataset directory with the probe store's, e.g. the
`probe/dataset` of a probe track run (those runs never enter the store, so that the
track's probe is not scored on its own training data); a run found in both counts once.

`--bench-run NAME` restricts the dataset to the runs of those bench runs (their tasks'
`run_id`s and best-of-k samples), e.g. to keep one policy's runs apart.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.results import bench_run_ids
from probes.dataset import Dataset
from probes.features import baseline_scores
from probes.inputs import INPUTS, dataset_matrix
from probes.labels import UNKNOWN
from probes.metrics import auroc, detection_lag, run_alarmed, summarize_lags
from probes.prefix import PrefixIntegrator
from probes.step_probe import StepProbe
from probes.training import (
    TrainOptions,
    calibrate_on_runs,
    choose_l2,
    rows_of,
    task_groups,
    task_of_runs,
)


def folds_of(dataset: Dataset, k: int, seed: int) -> list[list[str]]:
    """K lists of tasks; tasks with a hallucinated step, then with a clean one, then the
    rest are each shuffled and dealt round-robin, so every fold gets some of each."""
    rng = np.random.default_rng(seed)
    groups = task_groups(dataset)
    labels_of: dict[str, set[int]] = {}
    task_of = task_of_runs(dataset)
    for row in dataset.rows:
        labels_of.setdefault(task_of[row.run_id], set()).add(row.label)
    strata = (
        [t for t in groups if 1 in labels_of.get(t, set())],
        [t for t in groups if 1 not in labels_of.get(t, set()) and 0 in labels_of.get(t, set())],
        [t for t in groups if not labels_of.get(t, set()) & {0, 1}],
    )
    folds: list[list[str]] = [[] for _ in range(k)]
    turn = 0
    for stratum in strata:
        for task in rng.permutation(sorted(stratum)):
            folds[turn % k].append(str(task))
            turn += 1
    return folds


def bootstrap_auroc(scores, labels, tasks, reps: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of the AUROC, resampling tasks (a task's steps are not
    independent draws)."""
    rng = np.random.default_rng(seed)
    unique = np.unique(tasks)
    index = {t: np.flatnonzero(tasks == t) for t in unique}
    values = []
    for _ in range(reps):
        picked = np.concatenate([index[t] for t in rng.choice(unique, size=len(unique))])
        value = auroc(scores[picked], labels[picked])
        if not np.isnan(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def cross_validate(dataset: Dataset, tools: np.ndarray, pooling: str, folds: int,
                   opts: TrainOptions, reps: int, inputs: str = "hidden") -> dict:  # fmt: skip
    """`tools`: each row's tool name (its kind of step)."""
    x = dataset_matrix(dataset, pooling, inputs)
    labels = dataset.labels
    groups = task_groups(dataset)
    task_of_run = task_of_runs(dataset)
    n = len(labels)
    step = np.full(n, np.nan)
    prefix = np.full(n, np.nan)
    alarm = np.full(n, np.nan)  # > 0: the monitor would act at this step
    skipped = []
    clean_runs_alarmed: list[bool] = []
    for k, held_tasks in enumerate(folds_of(dataset, folds, opts.seed)):
        held_runs = [r for t in held_tasks for r in groups[t]]
        held = set(held_runs)
        train_runs = [r for r in dataset.run_ids if r not in held]
        train_rows = rows_of(dataset, train_runs)
        known = train_rows[labels[train_rows] != UNKNOWN]
        y = labels[known]
        if (y == 1).sum() == 0 or (y == 0).sum() == 0:
            skipped.append(k)
            continue
        task_groups_of_rows = np.array([task_of_run[dataset.rows[i].run_id] for i in known])
        l2 = opts.l2 if opts.l2 is not None else choose_l2(x[known], y, task_groups_of_rows,
                                                           opts.seed)  # fmt: skip
        probe = StepProbe.fit(x[known], y, l2=l2)
        integrator = PrefixIntegrator.fit(dataset.sequences(x, train_rows), decay=opts.decay,
                                          l2=l2)  # fmt: skip
        t = calibrate_on_runs(probe, integrator, dataset, x, train_runs, opts)
        rows = rows_of(dataset, held_runs)
        if not len(rows):
            continue
        step[rows] = probe.score(x[rows])
        prefix[rows] = [integrator.score(seq) for seq, _ in dataset.sequences(x, rows)]
        alarm[rows] = np.maximum(step[rows] - t.step, prefix[rows] - t.prefix)
        for run in held_runs:
            mine = rows_of(dataset, [run])
            if len(mine) and dataset.rows[mine[0]].run_verified and not (labels[mine] == 1).any():
                clean_runs_alarmed.append(run_alarmed(prefix[mine], t.prefix))

    scored = ~np.isnan(step)
    known = scored & (labels != UNKNOWN)
    task_of_row = np.array([task_of_run[r.run_id] for r in dataset.rows])
    base = baseline_scores(dataset.baseline("mean_entropy"), dataset.baseline("min_logprob"))
    scores = {"step probe": step, "prefix integrator": prefix,
              "mean token entropy": base["entropy"], "min logprob": base["min_logprob"]}  # fmt: skip
    # AUROC over all labelled steps, and within each kind of step (tool): a two-token
    # option pick and a forty-line rewrite differ in length and confidence whatever
    # their label, so only the within-kind figures say whether a score sees the label.
    scopes = {"all steps": known}
    for tool in sorted(set(tools[known].tolist())):
        mask = known & (tools == tool)
        if len(set(labels[mask].tolist())) == 2:
            scopes[f"{tool or '?'} steps"] = mask
    figures: dict[str, dict] = {}
    for scope, mask in scopes.items():
        y = labels[mask]
        figures[scope] = {"hallucinated": int((y == 1).sum()), "clean": int((y == 0).sum())}
        for name, values in scores.items():
            low, high = bootstrap_auroc(values[mask], y, task_of_row[mask], reps, opts.seed)
            figures[scope][name] = {"auroc": auroc(values[mask], y), "low": low, "high": high}
    y = labels[known]
    lags = []
    for run in dataset.run_ids:
        mine = rows_of(dataset, [run])
        mine = mine[scored[mine]]
        if len(mine):
            order = np.argsort([dataset.rows[i].position for i in mine], kind="stable")
            lags.append(detection_lag(alarm[mine][order], labels[mine][order], 0.0))
    lag = summarize_lags(lags)
    clean = known & (labels == 0)
    return {
        "pooling": pooling,
        "inputs": inputs,
        "folds": folds,
        "skipped_folds": skipped,
        "tasks": len(set(task_of_row[known].tolist())),
        "runs": len(dataset.run_ids),
        "steps": int(known.sum()),
        "hallucinated": int((y == 1).sum()),
        "clean": int((y == 0).sum()),
        "auroc": figures,
        "target_false_alarm": opts.target_false_alarm,
        "clean_steps_alarmed": float((alarm[clean] > 0).mean()) if clean.any() else None,
        "clean_runs_rolled_back": (
            float(np.mean(clean_runs_alarmed)) if clean_runs_alarmed else None
        ),
        "clean_runs": len(clean_runs_alarmed),
        "runs_with_hallucination": lag.runs,
        "detected": lag.detected,
        "median_lag": lag.median_lag,
        "mean_lag": lag.mean_lag,
        "early_alarms": lag.early,
    }


def render(result: dict) -> str:
    lines = [
        f"pooling {result['pooling']}, probe inputs {result.get('inputs', 'hidden')}: "
        f"{result['tasks']} tasks, {result['runs']} runs, "
        f"{result['steps']} labelled steps ({result['hallucinated']} hallucinated, "
        f"{result['clean']} clean), {result['folds']} folds by task"
        + (
            f", folds {result['skipped_folds']} skipped (one class missing in training)"
            if result["skipped_folds"]
            else ""
        ),
    ]
    for scope, f in result["auroc"].items():
        lines += ["", f"{scope} ({f['hallucinated']} hallucinated, {f['clean']} clean):", "",
                  "| score | step AUROC | 95 % (bootstrap over tasks) |", "|---|---|---|"]  # fmt: skip
        for name in ("step probe", "prefix integrator", "mean token entropy", "min logprob"):
            a = f[name]
            lines.append(f"| {name} | {a['auroc']:.3f} | {a['low']:.3f}–{a['high']:.3f} |")
    rate = result["clean_steps_alarmed"]
    roll = result["clean_runs_rolled_back"]
    lines += [
        "",
        f"At thresholds for {result['target_false_alarm']:.0%} false alarms (from the training "
        "folds):",
        f"- held-out clean steps that would alarm: {'-' if rate is None else f'{rate:.1%}'}",
        f"- clean verified runs that would see a rollback: "
        f"{'-' if roll is None else f'{roll:.1%}'} of {result['clean_runs']}",
        f"- runs with a hallucinated step detected: {result['detected']} of "
        f"{result['runs_with_hallucination']}, median lag "
        f"{_num(result['median_lag'])} steps (mean {_num(result['mean_lag'])}); "
        f"alarmed before the first hallucinated step: {result['early_alarms']}",
    ]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def tools_of(dataset: Dataset, home) -> np.ndarray:
    """Each row's tool; rows collected before rows carried it are looked up in the run
    store (empty when the trajectory is gone)."""
    from memory.trajectories import TrajectoryStore

    store = TrajectoryStore(home.runs)
    steps: dict[str, dict[int, str]] = {}
    out = []
    for row in dataset.rows:
        if row.tool:
            out.append(row.tool)
            continue
        if row.run_id not in steps:
            try:
                trajectory = store.load(row.run_id)
                steps[row.run_id] = {i: s.action.name if s.action else ""
                                     for i, s in enumerate(trajectory.steps)}  # fmt: skip
            except Exception:  # a run that was cleaned up: its rows count under "?"
                steps[row.run_id] = {}
        out.append(steps[row.run_id].get(row.position, ""))
    return np.array(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model (default: the configured one)")
    parser.add_argument("--data", type=Path, action="append", default=[],
                        help="a further dataset directory to read with the probe store's, e.g. "
                        "a probe track run's probe/dataset (repeatable)")  # fmt: skip
    parser.add_argument("--no-store", action="store_true",
                        help="read only the --data directories, not the probe store's")  # fmt: skip
    parser.add_argument("--bench-run", action="append", default=[],
                        help="only runs of this bench run (name under ENGRAM_HOME/bench, or a path)")  # fmt: skip
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--pooling", default="exp:0.25", help="a stored pooling, or `all`")
    parser.add_argument("--inputs", choices=INPUTS, default="hidden",
                        help="what the probes read (default: the hidden state, as trained)")  # fmt: skip
    parser.add_argument("--decay", type=float, default=0.7)
    parser.add_argument("--target-false-alarm", type=float, default=0.05)
    parser.add_argument("--bootstrap", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    from agent.home import Home

    home = Home.resolve()
    data: list[Path] = list(args.data)
    if not args.no_store:
        from agent.cli.probes_cmd import _model
        from probes.store import ProbeStore

        data.insert(0, ProbeStore.for_home(home).data_dir(_model(args.model)[0]))
    if not data:
        parser.error("--no-store needs at least one --data directory")
    wanted: set[str] | None = None
    if args.bench_run:
        wanted = set()
        for name in args.bench_run:
            folder = Path(name) if Path(name).is_dir() else home.bench / name
            if not folder.is_dir():
                parser.error(f"no bench run {name!r} (looked in {folder})")
            wanted |= bench_run_ids(folder)
    dataset = Dataset.load(data, runs=wanted)
    dataset, repeats = dataset.without_repeats()
    if not dataset.shards:
        parser.error(f"no runs with features in {', '.join(map(str, data))}")
    poolings = dataset.poolings if args.pooling == "all" else [args.pooling]
    opts = TrainOptions(decay=args.decay, target_false_alarm=args.target_false_alarm,
                        seed=args.seed)  # fmt: skip
    tools = tools_of(dataset, home)
    results = [cross_validate(dataset, tools, p, args.folds, opts, args.bootstrap, args.inputs)
               for p in poolings]  # fmt: skip
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"dataset: {', '.join(map(str, data))} ({repeats} repeated runs left out)")
        print("\n\n".join(render(r) for r in results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
