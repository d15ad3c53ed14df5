"""`probe`: how well the stored probe flags hallucinated steps, and what acting on it buys.

- **A/B**: the same tasks with the same seeds, with probes on (the monitor resamples and
  rolls back as calibrated) and off (`probes.enabled = false`); resolved rates with
  Wilson intervals, the paired comparison (McNemar's exact test on the tasks only one
  arm resolved), and how often the probe intervened.
- **Figures on this run's runs**: both arms' step features are recorded at the probe's
  layer (`bench.collect`) into `probe/dataset/` (never into the probe's training data)
  and labelled from the repository; the probe is scored on them with the probes
  package's own evaluation (`probes.training.evaluate`: AUROC of the step probe, the
  prefix integrator and the two baselines, false alarms, detection lag) and ROC curves.
- **On its own dataset**: `engram probes eval`'s figures (runs the probe never saw).

Figures are computed once the cells finish and frozen in `probe/metrics.json` (with the
probe's id), so a report re-rendered after retraining the probe still describes this run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import atomic
from bench.report import markdown as md
from bench.report import plots
from bench.results import BenchRunError
from bench.runner import Arm
from bench.stats import paired
from bench.summary import summarise_cell
from bench.tracks.base import RunView

if TYPE_CHECKING:
    from bench.session import Session

ARMS = {"on": {"probes.enabled": True}, "off": {"probes.enabled": False}}


def roc_points(scores, labels) -> dict[str, Any]:
    """ROC curve of alarm scores (higher = more suspicious) against 0/1 labels; NaN dropped."""
    import numpy as np

    from probes.metrics import auroc

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    keep = ~np.isnan(s)
    s, y = s[keep], y[keep]
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return {"fpr": [], "tpr": [], "auroc": None, "positives": pos, "negatives": neg}
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # One point per distinct threshold: cumulative counts at the last row of each tie block.
    ends = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = np.cumsum(y)[ends], np.cumsum(~y)[ends]
    fpr = np.r_[0.0, fp / neg].round(5).tolist()
    tpr = np.r_[0.0, tp / pos].round(5).tolist()
    value = auroc(s, y.astype(int))
    return {"fpr": fpr, "tpr": tpr, "auroc": None if np.isnan(value) else float(value),
            "positives": pos, "negatives": neg}  # fmt: skip


def probe_metrics(probe, data_dir: Path, arm_of_run: dict[str, str]) -> dict[str, Any]:
    """The probe's figures on a dataset directory, overall and per arm, plus ROC curves."""
    import numpy as np

    from probes.dataset import Dataset, describe
    from probes.features import baseline_scores
    from probes.inputs import dataset_matrix
    from probes.labels import UNKNOWN
    from probes.training import evaluate, score_rows

    dataset = Dataset.load(data_dir)
    out: dict[str, Any] = {"dataset": describe(dataset) if dataset.shards else "empty",
                           "skipped": dataset.skipped}  # fmt: skip
    if not dataset.shards:
        return out
    # Where the probe never intervened, the two arms often make the same run of a task;
    # over both arms such a run is one observation, not two (per arm it is kept).
    distinct, out["repeats"] = dataset.without_repeats()
    out["all"] = evaluate(probe, distinct, distinct.run_ids).model_dump(mode="json")
    out["by_arm"] = {}
    for arm in sorted(set(arm_of_run.values())):
        runs = [r for r in dataset.run_ids if arm_of_run.get(r) == arm]
        if runs:
            out["by_arm"][arm] = evaluate(probe, dataset, runs).model_dump(mode="json")
    x = dataset_matrix(distinct, probe.card.pooling, probe.card.inputs)
    rows = np.arange(len(distinct.rows))
    labels = distinct.labels
    known = labels != UNKNOWN
    step, prefix = score_rows(probe, distinct, x, rows)
    base = baseline_scores(distinct.baseline("mean_entropy"), distinct.baseline("min_logprob"))
    y = labels[known]
    out["roc"] = {
        "step probe": roc_points(step[known], y),
        "prefix integrator": roc_points(prefix[known], y),
        "mean entropy": roc_points(base["entropy"][known], y),
        "min logprob": roc_points(base["min_logprob"][known], y),
    }
    return out


class ProbeTrack:
    name = "probe"

    def run(self, session: Session) -> None:
        from bench.collect import FeatureCollector, fixed_dir
        from probes.store import ProbeStore
        from probes.teacher import canonical_model_id

        if session.manifest.oracle:
            raise BenchRunError(
                "the probe track needs a model (an oracle run has no hidden states)"
            )
        backend = session.backend_for(session.tasks[0])
        model_id = canonical_model_id(backend.model_id)
        probe = ProbeStore.for_home(session.home).load(model_id)
        if probe is None:
            raise BenchRunError(
                f"no probe is trained for {model_id}: the A/B would compare two identical arms. "
                "Collect features (`engram bench run --track resolve --collect-probes` on "
                "training tasks), then `engram probes train`."
            )
        data_dir = session.run_dir / "probe" / "dataset"
        runner = session.runner()
        arm_of_run: dict[str, str] = {}
        for name, flags in ARMS.items():
            collector = FeatureCollector(fixed_dir(data_dir), layer=probe.layer)
            results = runner.run(session.tasks, session.store("probe", name),
                                 Arm(name, flags=flags, hooks=[collector]))  # fmt: skip
            arm_of_run.update({r.run_id: name for r in results.values() if r.run_id})
        metrics = {"probe_id": probe.probe_id, "model_id": model_id, "layer": probe.layer,
                   "pooling": probe.card.pooling,
                   "thresholds": probe.card.thresholds.model_dump(mode="json"),
                   "this_run": probe_metrics(probe, data_dir, arm_of_run),
                   "probe_dataset": self._store_eval(session, probe, model_id)}  # fmt: skip
        atomic.write_text(session.run_dir / "probe" / "metrics.json",
                          json.dumps(metrics, indent=2, default=str))  # fmt: skip

    @staticmethod
    def _store_eval(session: Session, probe, model_id: str) -> dict[str, Any] | None:
        """`engram probes eval`: the stored probe on its dataset's runs of tasks it never saw."""
        from probes.dataset import Dataset
        from probes.store import ProbeStore
        from probes.training import evaluate, unseen_runs

        dataset = Dataset.load(ProbeStore.for_home(session.home).data_dir(model_id))
        dataset, _ = dataset.without_repeats()
        unseen = unseen_runs(probe, dataset)
        if not unseen:
            return None
        return {"runs": len(unseen), **evaluate(probe, dataset, unseen).model_dump(mode="json")}

    # -- reading back -------------------------------------------------------------

    def summarise(self, view: RunView) -> dict[str, Any]:
        cells = {name: view.cell("probe", name) for name in ARMS}
        summaries = {n: summarise_cell(f"probe/{n}", r.values()).model_dump(mode="json")
                     for n, r in cells.items()}  # fmt: skip
        outcome = {n: {i: r.resolved for i, r in rs.items() if r.status.graded}
                   for n, rs in cells.items()}  # fmt: skip
        on = cells["on"].values()
        interventions = {
            "resampled_steps": sum(r.resampled for r in on),
            "rolled_back_steps": sum(r.rolled_back for r in on),
            "runs_with_intervention": sum((r.resampled + r.rolled_back) > 0 for r in on),
            "budget_exhausted": sum(r.exit_status == "budget_exhausted" for r in on),
        }
        path = view.path("probe", "metrics.json")
        metrics = json.loads(path.read_text()) if path.is_file() else None
        return {"cells": summaries, "paired": paired(outcome["on"], outcome["off"]).model_dump(),
                "interventions": interventions, "metrics": metrics}  # fmt: skip

    def plots(self, summary: dict[str, Any], out: Path) -> dict[str, str]:
        made = {}
        cells = summary["cells"]
        if any(c["graded"] for c in cells.values()):
            made["probe_ab"] = plots.rate_bars(
                {f"probes {n}": c["resolved"] for n, c in cells.items()}, out / "probe_ab.png",
                "resolved with and without probe-driven resample/rollback",
            ).name  # fmt: skip
        roc = ((summary.get("metrics") or {}).get("this_run") or {}).get("roc")
        if roc and any(c["fpr"] for c in roc.values()):
            made["probe_roc"] = plots.roc(roc, out / "probe_roc.png",
                                          "step-level ROC on this run's runs").name  # fmt: skip
        return made

    def markdown(self, summary: dict[str, Any], plots_made: dict[str, str]) -> list[str]:
        lines = ["## probe", ""]
        lines += md.cell_rows({f"probes {n}": c for n, c in summary["cells"].items()})
        p, i = summary["paired"], summary["interventions"]
        lines += ["",
                  f"Paired on {p['tasks']} tasks: both resolved {p['both']}, only with probes "
                  f"{p['only_a']}, only without {p['only_b']}, neither {p['neither']}; exact "
                  f"McNemar p = {md._cell(p['p_value'])}.",
                  f"With probes on: {i['resampled_steps']} steps resampled, "
                  f"{i['rolled_back_steps']} rolled back, in {i['runs_with_intervention']} runs; "
                  f"{i['budget_exhausted']} runs ended on the resample/rollback budget.", ""]  # fmt: skip
        lines += md.image("probe_ab", plots_made, "probe A/B")
        metrics = summary.get("metrics")
        if not metrics:
            return [*lines, "Probe figures: not computed yet (the track has not finished).", ""]
        lines.append(f"Probe `{metrics['probe_id']}` (layer {metrics['layer']}, pooling "
                     f"{metrics['pooling']}).")  # fmt: skip
        this = metrics["this_run"]
        lines += [f"Features recorded from this run: {this['dataset']}.", ""]
        evaluations = {}
        if "all" in this:
            # (older metrics.json files counted a run both arms made alike twice)
            both = (
                "this run, both arms (alike runs once)"
                if "repeats" in this
                else "this run, both arms"
            )
            evaluations[both] = this["all"]
            evaluations.update({f"this run, probes {a}": e for a, e in this["by_arm"].items()})
        if metrics.get("probe_dataset"):
            evaluations["probe dataset, unseen runs"] = metrics["probe_dataset"]
        if evaluations:
            keys = [("step_auroc", "step AUROC"), ("prefix_auroc", "prefix AUROC"),
                    ("entropy_auroc", "entropy AUROC"), ("min_logprob_auroc", "min-logprob AUROC"),
                    ("run_auroc", "run AUROC"), ("step_false_alarm", "clean steps flagged"),
                    ("prefix_run_false_alarm", "clean runs rolled back"),
                    ("detection_rate", "runs detected"), ("median_lag", "median lag (steps)")]  # fmt: skip
            rows = [[label, *[e.get(k) for e in evaluations.values()]] for k, label in keys]
            rows.insert(0, ["steps (hallucinated/clean)",
                            *[f"{e['steps']} ({e['hallucinated']}/{e['clean']})"
                              for e in evaluations.values()]])  # fmt: skip
            lines += md.table(["figure", *evaluations], rows)
            lines.append("")
        lines += md.image("probe_roc", plots_made, "probe ROC")
        return lines
