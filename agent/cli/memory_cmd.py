"""`engram memory list|show|diff|rollback|export`: a repository's adapter versions."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Inspect and manage a repository's adapter versions.",
                  no_args_is_help=True)  # fmt: skip

REPO = typer.Option(Path("."), "--repo", help="the git repository")


def _open(repo: Path):
    from agent.cli.common import home
    from memory.adapter_store import FileAdapterStore
    from sandboxes.repo import repo_identity

    identity = repo_identity(repo)
    h = home()
    return identity, FileAdapterStore(h.adapters), h


def _version_or_current(store, repo_id: str, version: int | None) -> int:
    """The version asked for, or the repo's current one (a clear error when it has none)."""
    if version is not None:
        return version
    from agent.cli.common import fail

    current = store.current(repo_id)
    if current is None:
        fail(f"{repo_id} has no current adapter; name a version (`engram memory list`)")
    return current.version


def _metric(metrics: dict[str, float], key: str, fmt: str = "{:.3f}") -> str:
    return fmt.format(metrics[key]) if key in metrics else "-"


@app.command("list")
def list_versions(repo: Path = REPO, as_json: bool = typer.Option(False, "--json")) -> None:
    """Versions with status, method, data size and the gate's numbers."""
    import json

    from rich.table import Table

    from agent.cli.common import console
    from memory.learn import waiting_runs
    from memory.self_edit_store import SelfEditStore

    identity, store, h = _open(repo)
    versions = store.list(identity.id)
    if as_json:
        print(json.dumps([v.model_dump(mode="json") for v in versions], indent=2))
        return
    out = console()
    out.print(f"[bold]{identity.name}[/] ({identity.id})")
    if not versions:
        out.print("no adapter versions yet: `engram learn --repo PATH` makes the first")
    else:
        table = Table("version", "status", "method", "self-edits", "repo action loss",
                      "repo QA", "HumanEval", "held-out loss", "created")  # fmt: skip
        for v in versions:
            m = v.metrics
            table.add_row(f"v{v.version}", v.status.value, v.method, str(len(v.self_edit_hashes)),
                          _metric(m, "repo_action_loss"), _metric(m, "repo_qa_accuracy"),
                          _metric(m, "humaneval_pass@1"), _metric(m, "heldout_loss", "{:.4f}"),
                          v.created_at.strftime("%Y-%m-%d %H:%M"))  # fmt: skip
        out.print(table)
    entries = SelfEditStore(h).entries(identity.id)
    by = {s: sum(1 for e in entries if e.status == s) for s in ("accepted", "heldout", "dropped")}
    out.print(f"self-edits: {by['accepted']} trained on, {by['heldout']} held out, "
              f"{by['dropped']} dropped; {waiting_runs(h, identity.id)} verified run(s) waiting")  # fmt: skip


@app.command("show")
def show(version: int = typer.Argument(None, help="default: the current version"),
         repo: Path = REPO) -> None:  # fmt: skip
    """One version's manifest: data, hyperparameters, every metric and the gate's reason."""

    identity, store, _ = _open(repo)
    version = _version_or_current(store, identity.id, version)
    print(store.get(identity.id, version).model_dump_json(indent=2))  # plain JSON, no markup


@app.command("diff")
def diff(a: int, b: int, repo: Path = REPO) -> None:
    """What changed from version A to version B (self-edits, hyperparameters, metrics)."""
    from agent.cli.common import console
    from memory.self_edit_store import SelfEditStore

    identity, store, h = _open(repo)
    out = console()
    change = store.diff(identity.id, a, b)
    for line in change.lines():
        out.print(line, markup=False)
    # Which self-edits, by kind and source run, so a change can be traced to its runs.
    known = {e.id: e for e in SelfEditStore(h).entries(identity.id)}
    for sign, ids in (("+", change.self_edits_added), ("−", change.self_edits_removed)):
        for edit_id in ids:
            entry = known.get(edit_id)
            what = f"{entry.kind.value} from run {entry.source_run}" if entry else "(not stored)"
            out.print(f"  {sign} {edit_id} {what}", markup=False)


@app.command("rollback")
def rollback(
    version: int = typer.Argument(None, help="an accepted version; omit with --base"),
    base: bool = typer.Option(False, "--base", help="use no adapter (the base model)"),
    repo: Path = REPO,
) -> None:
    """Point the repo's `current` at an accepted version, or at the base model."""
    from agent.cli.common import console, fail

    if (version is None) == (not base):
        fail("give a version to roll back to, or --base for the base model (not both)")
    identity, store, _ = _open(repo)
    result = store.rollback(identity.id, None if base else version)
    target = "the base model (no adapter)" if result is None else f"v{result.version}"
    console().print(f"{identity.id}: current is now {target}")


@app.command("export")
def export(
    version: int = typer.Argument(None, help="default: the current version"),
    out_path: Path = typer.Option(None, "--out", "-o", help="default: ./<repo-id>-vN.tar.gz"),
    repo: Path = REPO,
) -> None:
    """Write one version (PEFT folder + manifest.json) as a .tar.gz."""
    import os
    import tarfile
    import tempfile

    from agent.cli.common import console

    identity, store, _ = _open(repo)
    version = _version_or_current(store, identity.id, version)
    manifest = store.get(identity.id, version)  # VersionNotFound says what to do
    folder = store.version_path(identity.id, version)
    name = f"{identity.id}-v{version:04d}"
    target = out_path or Path(f"{name}.tar.gz")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the target and renamed: an interrupted export leaves no broken archive.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for entry in sorted(folder.iterdir()):
                if entry.is_file() and not entry.name.startswith("."):
                    tar.add(entry, arcname=f"{name}/{entry.name}")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    console().print(f"exported v{manifest.version} ({manifest.status.value}) of {identity.id} "
                    f"to {target}")  # fmt: skip
