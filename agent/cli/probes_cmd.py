"""`engram probes train|eval|show`: hallucination probes over the collected feature dataset."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Train, evaluate and inspect the hallucination probes of a base model.",
    no_args_is_help=True,
)

MODEL_HELP = "model (registry name, hub id or folder; default: the configured model)"


def _model(ref: str | None) -> tuple[str, str | None]:
    """(model id the probes are stored under, sha256 of the model where known)."""
    from agent.cli.common import home, load
    from agent.models.loader import resolve_model
    from agent.models.registry import REGISTRY

    ref = ref or load().config.model.name
    spec = REGISTRY.get(ref)
    if spec is not None:  # no need for the model itself: probes are keyed by its id
        return spec.hub_id, spec.sha256
    resolved = resolve_model(ref, home().models)
    return resolved.model_id, resolved.sha256


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _print_evaluation(evaluation, thresholds, title: str) -> None:
    from rich.table import Table

    from agent.cli.common import console

    e = evaluation
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("probe", justify="right")
    table.add_column("mean entropy", justify="right")
    table.add_column("min logprob", justify="right")
    table.add_row(
        "step AUROC", _fmt(e.step_auroc), _fmt(e.entropy_auroc), _fmt(e.min_logprob_auroc)
    )
    table.add_row("prefix AUROC (step labels)", _fmt(e.prefix_auroc), "", "")
    table.add_row("run AUROC (max prefix)", _fmt(e.run_auroc), "", "")
    table.add_row(f"clean steps resampled (step > {thresholds.step:.3f})",
                  _fmt(e.step_false_alarm), "", "")  # fmt: skip
    table.add_row(f"clean runs rolled back (prefix > {thresholds.prefix:.3f})",
                  _fmt(e.prefix_run_false_alarm), "", "")  # fmt: skip
    table.add_row("runs with a hallucination detected", _fmt(e.detection_rate), "", "")
    table.add_row("median detection lag (steps)", _fmt(e.median_lag), "", "")
    table.add_row("runs alarmed before their first hallucination", _fmt(e.early_alarms), "", "")
    out = console()
    out.print(table)
    out.print(f"[dim]{e.runs} runs, {e.steps} labelled steps ({e.hallucinated} hallucinated, "
              f"{e.clean} clean)[/]")  # fmt: skip


def _bench_runs(names: list[str]) -> set[str]:
    """The agent runs of the named bench runs (`--bench-run`)."""
    from agent.cli.common import fail, home
    from bench.results import BenchRunError, bench_run_ids
    from bench.session import run_dir_for

    ids: set[str] = set()
    for name in names:
        try:
            folder = run_dir_for(home(), name)
        except BenchRunError as exc:
            fail(f"--bench-run {name}: {exc}")
        if not folder.is_dir():
            fail(f"--bench-run {name}: no bench run there ({folder}); `ls $ENGRAM_HOME/bench`")
        ids |= bench_run_ids(folder)
    return ids


@app.command("train")
def train(
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    pooling: str = typer.Option("exp:0.25", help="exp[:half_life] | linear | mean | last"),
    inputs: str = typer.Option(
        "hidden",
        help="what the probes read: hidden | baselines (min logprob and mean "
        "entropy) | hidden+baselines; compare them with scripts/bench_probe_cv.py --inputs",
    ),
    bench_run: list[str] = typer.Option(
        None,
        "--bench-run",
        help="only the runs of this bench run (name or directory; repeatable), e.g. one policy's",
    ),
    data: list[Path] = typer.Option(
        None, "--data", help="another dataset directory to read (an archive; repeatable)"
    ),
    decay: float = typer.Option(None, help="prefix integrator decay (default: probes.decay)"),
    target_false_alarm: float = typer.Option(
        None, help="clean steps / runs that may alarm (default: probes.target_false_alarm)"
    ),
    l2: float = typer.Option(None, help="L2 strength (default: chosen by cross-validation)"),
    seed: int = typer.Option(0, help="seed of the run split"),
    calibration_share: float = typer.Option(0.25, help="share of runs held out for thresholds"),
    test_share: float = typer.Option(0.25, help="share of runs held out for the card's figures"),
    as_json: bool = typer.Option(False, "--json", help="print the card as JSON"),
) -> None:
    """Fit, calibrate on held-out runs, and store the probe for the model.

    Fits the step probe and the prefix integrator on the collected dataset's training
    runs, sets thresholds for the target false-alarm rate on the calibration runs and
    reports figures against the baselines on the test runs."""
    from agent.cli.common import console, err_console, fail, load
    from probes.dataset import Dataset, describe
    from probes.store import ProbeStore
    from probes.training import TrainOptions, train_probe

    cfg = load().config
    model_id, sha = _model(model)
    store = ProbeStore.for_home()
    data_dir = store.data_dir(model_id)
    wanted = _bench_runs(bench_run) if bench_run else None
    for extra in data or []:
        if not extra.is_dir():
            fail(f"--data {extra}: no such directory")
    sources = [data_dir, *(data or [])]
    dataset, repeats = Dataset.load(sources, runs=wanted).without_repeats()
    if not dataset.shards:
        if wanted is not None:
            fail(f"none of the runs of {', '.join(bench_run)} has features in {data_dir}: "
                 "were they run with --collect-probes?")  # fmt: skip
        fail(f"no feature dataset for {model_id} in {data_dir}: collect runs first")
    out = console()
    info = err_console() if as_json else out  # --json: stdout is the card and nothing else
    for note in dataset.skipped:
        info.print(f"[yellow]skipped[/] {note}")
    info.print(
        f"dataset {', '.join(str(d) for d in sources)}: {describe(dataset)}"
        + (f" ({repeats} repeated runs counted once)" if repeats else "")
    )
    opts = TrainOptions(
        pooling=pooling, inputs=inputs, decay=decay if decay is not None else cfg.probes.decay,
        target_false_alarm=(
            target_false_alarm if target_false_alarm is not None else cfg.probes.target_false_alarm
        ),
        l2=l2, seed=seed, calibration_share=calibration_share, test_share=test_share,
    )  # fmt: skip
    try:
        probe, evaluation = train_probe(dataset, model_id, opts, model_sha256=sha)
    except ValueError as exc:
        fail(str(exc))
    path = store.save(probe)
    if as_json:
        out.print_json(probe.card.model_dump_json())
        return
    t = probe.card.thresholds
    where = "test runs" if probe.card.training.test_runs else "calibration runs (no test split)"
    _print_evaluation(evaluation, t, f"probe {probe.probe_id} on {where}")
    out.print(f"thresholds for {t.target_false_alarm:.0%} false alarms: step {t.step:.3f} "
              f"(n={t.step_n}), prefix {t.prefix:.3f} ({t.prefix_basis}, n={t.prefix_n})"
              + ("" if t.guaranteed else " [yellow](too few clean examples for the target)[/]"))  # fmt: skip
    if probe.card.training.calibrated_on_training_runs:
        out.print("[yellow]calibrated on the training runs: no verified run was held out[/]")
    out.print(f"[green]saved[/] {path}")


@app.command("archive")
def archive_cmd(
    dest: Path = typer.Argument(..., help="directory to write (e.g. docs/records/probes/RUN)"),
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    bench_run: list[str] = typer.Option(
        None, "--bench-run", help="only the runs of this bench run (repeatable)"
    ),
    data: list[Path] = typer.Option(
        None, "--data", help="another dataset directory to read (a probe track's; repeatable)"
    ),
) -> None:
    """Keep the dataset's labelled runs in a small directory that outlives this machine
    (float16 hidden states, runs without a labelled step left out); `train --data` and
    scripts/bench_probe_cv.py --data read it back."""
    from agent.cli.common import console, fail
    from probes.archive import archive
    from probes.dataset import Dataset, DatasetError
    from probes.store import ProbeStore

    model_id, _ = _model(model)
    data_dir = ProbeStore.for_home().data_dir(model_id)
    for extra in data or []:
        if not extra.is_dir():
            fail(f"--data {extra}: no such directory")
    wanted = _bench_runs(bench_run) if bench_run else None
    dataset = Dataset.load([data_dir, *(data or [])], runs=wanted)
    try:
        summary = archive(dataset, dest)
    except DatasetError as exc:
        fail(str(exc))
    console().print(
        f"archived {summary.runs} runs ({summary.steps} steps: {summary.hallucinated} "
        f"hallucinated, {summary.clean} clean) to {dest}, {summary.bytes / 1e6:.1f} MB; "
        f"{summary.left_out} runs without a labelled step left out"
    )


@app.command("eval")
def evaluate(
    model: str = typer.Option(None, "--model", help=MODEL_HELP),
    all_runs: bool = typer.Option(
        False, "--all", help="every run in the dataset, not only runs of tasks the probe never saw"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
) -> None:
    """Figures of the stored probe against its baselines on the dataset's runs."""
    from agent.cli.common import console, fail
    from probes.dataset import Dataset
    from probes.store import ProbeStore
    from probes.training import evaluate as run_eval
    from probes.training import unseen_runs

    model_id, _ = _model(model)
    store = ProbeStore.for_home()
    probe = store.load(model_id)
    if probe is None:
        fail(f"no probe is trained for {model_id}: run `engram probes train`")
    dataset, _ = Dataset.load(store.data_dir(model_id)).without_repeats()
    runs = dataset.run_ids if all_runs else unseen_runs(probe, dataset)
    if not runs:
        fail("every task in the dataset was used to train or calibrate this probe; collect "
             "runs of new tasks, or pass --all (figures will flatter the probe)")  # fmt: skip
    evaluation = run_eval(probe, dataset, runs)
    if as_json:
        console().print_json(evaluation.model_dump_json())
        return
    label = "all runs" if all_runs else "runs of tasks the probe never saw"
    _print_evaluation(evaluation, probe.card.thresholds, f"probe {probe.probe_id} on {label}")


@app.command("show")
def show(model: str = typer.Option(None, "--model", help=MODEL_HELP)) -> None:
    """The stored probe's card: layer, pooling, decay, thresholds, training data, figures."""
    from agent.cli.common import console, fail
    from probes.store import ProbeStore

    model_id, _ = _model(model)
    store = ProbeStore.for_home()
    probe = store.load(model_id)
    if probe is None:
        known = ", ".join(c.model_id for c in store.cards()) or "none"
        fail(f"no probe is trained for {model_id} (probes exist for: {known})")
    console().print_json(probe.card.model_dump_json())
