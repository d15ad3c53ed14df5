"""`engram learn`: consolidate a repository's verified runs into a gated adapter version."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    app.command("learn")(learn)


def learn(
    repo: Path = typer.Option(Path("."), "--repo", help="the git repository"),
    auto: bool = typer.Option(False, "--auto", help="only when --every N runs are waiting"),
    every: int = typer.Option(
        None, "--every", help="with --auto: runs needed (default: memory.auto_every, else 1)"
    ),
    rest_em: int = typer.Option(0, "--rest-em", help="ReST-EM: K sampled self-edits per run"),
    bootstrap: bool = typer.Option(
        False,
        "--bootstrap",
        help="also learn from bootstrap demonstrations (written from known fixes)",
    ),
    method: str = typer.Option(None, "--method", help="retrain | merge (default memory.method)"),
    loss: str = typer.Option(None, "--loss", help="ce | eaft (default memory.loss)"),
    humaneval_n: int = typer.Option(8, "--humaneval-n", help="HumanEval subset for the gate"),
    max_steps: int = typer.Option(None, "--max-steps", help="cap on training steps"),
    wait: float = typer.Option(0.0, "--wait", help="seconds to wait if the repo is busy"),
    as_json: bool = typer.Option(False, "--json", help="print the resulting manifest as JSON"),
) -> None:
    """Turn new verified runs into a candidate adapter; the gate promotes or rejects it."""
    from rich.markup import escape

    from agent.cli.common import console, err_console, fail, home, load
    from sandboxes.repo import repo_identity

    if method not in (None, "retrain", "merge"):
        fail(f"--method must be retrain or merge, not {method!r}")
    if loss not in (None, "ce", "eaft"):
        fail(f"--loss must be ce or eaft, not {loss!r}")
    from memory.replay import EVAL_SIZES

    if humaneval_n and humaneval_n not in EVAL_SIZES:
        # Other sizes would overlap the replay data the adapters are trained on.
        fail(f"--humaneval-n must be 0 or one of {', '.join(map(str, EVAL_SIZES))}")
    out = err_console() if as_json else console()
    identity = repo_identity(repo)
    cfg = load(repo=repo).config
    h = home()
    from memory.learn import learn as run_learn
    from memory.learn import waiting_runs

    waiting = waiting_runs(h, identity.id, bootstrap)
    if auto:
        need = every or cfg.memory.auto_every or 1
        if waiting < need:
            out.print(f"nothing to do: {waiting} verified run(s) waiting, consolidating at {need}")
            if as_json:
                console().print_json(data={"result": "waiting", "waiting": waiting, "need": need})
            return
    trainer = {"max_steps": max_steps} if max_steps else None
    result = run_learn(repo, h, cfg, rest_em=rest_em, bootstrap=bootstrap,
                       progress=lambda m: out.print(f"[dim]{escape(m)}[/]"), method=method, loss=loss,
                       trainer=trainer, humaneval_n=humaneval_n, lock_timeout=wait)  # fmt: skip
    if result is None:
        why = ("the new runs gave no new self-edit to train on" if waiting else
               f"no unused verified runs of {identity.name} ({identity.id}); runs count once "
               "their tests pass (`engram runs list`)")  # fmt: skip
        out.print(f"nothing new to learn: {why}")
        if as_json:
            console().print_json(data={"result": "nothing", "waiting": waiting})
        return
    if as_json:
        print(result.model_dump_json(indent=2))  # plain: rich would read [..] as markup
    elif result.status.value == "current":
        why = result.notes.splitlines()[-1].removeprefix("accepted: ")
        out.print(f"[bold green]promoted v{result.version}[/]: {why}")
    else:
        why = result.notes.splitlines()[-1].removeprefix("rejected: ")
        out.print(f"[bold yellow]rejected v{result.version}[/]: {why}")
    if result.status.value != "current":
        raise typer.Exit(1)


def auto_learn_after_run(repo: Path, cfg, h, out) -> None:
    """`engram run` with `memory.auto_every` > 0: consolidate when enough runs wait.
    A busy repo (another consolidation) is skipped with a note, never waited on."""
    from rich.markup import escape

    from memory.base import StoreBusy
    from memory.learn import learn as run_learn
    from memory.learn import waiting_runs
    from sandboxes.repo import repo_identity

    identity = repo_identity(repo)
    waiting = waiting_runs(h, identity.id)
    if waiting < cfg.memory.auto_every:
        out.print(f"[dim]memory: {waiting}/{cfg.memory.auto_every} verified runs until the "
                  "next consolidation[/]")  # fmt: skip
        return
    out.print(f"memory: {waiting} verified runs waiting; consolidating (engram learn)")
    try:
        result = run_learn(repo, h, cfg, progress=lambda m: out.print(f"[dim]{escape(m)}[/]"),
                           lock_timeout=0)  # fmt: skip
    except StoreBusy as exc:
        out.print(f"[yellow]memory: skipped, {escape(str(exc))}[/]")
        return
    if result is not None:
        out.print(f"memory: v{result.version} {result.status.value}")
