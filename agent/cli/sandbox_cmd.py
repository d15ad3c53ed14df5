"""`engram sandbox exec|image`: run a command in a fresh sandbox; build/show the repo image."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Run commands in a throwaway sandbox and manage per-repository images.",
    no_args_is_help=True,
)


def command_line(argv: list[str]) -> str:
    """One argument is a shell command line as it is; several are quoted word by word."""
    import shlex

    return argv[0] if len(argv) == 1 else shlex.join(argv)


@app.command(
    "exec",
    context_settings={"allow_interspersed_args": False},
)
def exec_command(
    argv: list[str] = typer.Argument(..., metavar="-- CMD…", help="the command to run"),
    repo: Path = typer.Option(Path("."), "--repo", help="the git repository to run it in"),
    local: bool = typer.Option(False, "--local", help="no isolation: run on this machine"),
    rev: str = typer.Option("HEAD", "--rev", help="the commit to check out"),
    base_image: bool = typer.Option(
        False, "--base-image", help="use the base image, not the per-repo one"
    ),
    timeout: float | None = typer.Option(
        None, "--timeout", help="seconds (default: sandbox config)"
    ),
) -> None:
    """Run CMD in a fresh private clone of the repository, in the sandbox.

    Prints the output and the exit code, and exits with that code. One argument is run
    as a shell command line; several are quoted word by word. The clone and the
    container are removed afterwards: your checkout is never touched.
    """
    import sys
    import time
    import uuid

    from agent.cli.common import err_console, home, load
    from sandboxes.factory import open_sandbox
    from sandboxes.workspace import Workspace

    flags = {"sandbox.kind": "local"} if local else {}
    if base_image:
        flags["sandbox.repo_image"] = False
    settings = load(repo=repo.expanduser(), **flags).config.sandbox
    h = home()
    h.ensure(h.worktrees, h.images)
    run_id = f"exec-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    ws_path, snap_dir = h.worktrees / run_id, h.worktrees / f"{run_id}.snapshots.git"
    err = err_console()
    workspace = Workspace.create(repo, ws_path, snap_dir, run_id, base=rev)
    try:
        with open_sandbox(
            workspace, settings, images_dir=h.images, report=lambda m: err.print(f"[dim]{m}[/]")
        ) as box:
            result = box.execute(command_line(argv), timeout=timeout)
    finally:
        workspace.remove()
        import shutil

        shutil.rmtree(snap_dir, ignore_errors=True)
    # Raw bytes, not through rich: the output may contain anything, markup included.
    sys.stdout.write(result.output if result.output.endswith("\n") else result.output + "\n")
    sys.stdout.flush()
    state = ", timed out" if result.timed_out else ""
    err.print(f"[dim]exit code {result.exit_code} ({result.duration_s:.1f} s{state})[/]")
    raise typer.Exit(result.exit_code if 0 <= result.exit_code <= 255 else 1)


@app.command("image")
def image_command(
    repo: Path = typer.Option(Path("."), "--repo", help="the git repository"),
    rev: str = typer.Option("HEAD", "--rev", help="read the dependencies at this commit"),
    rebuild: bool = typer.Option(False, "--rebuild", help="build even if it is up to date"),
    no_build: bool = typer.Option(False, "--no-build", help="only show what would be built"),
) -> None:
    """Build (if needed) and show the repository's sandbox image and what it installs."""
    from agent.cli.common import console, err_console, home, load
    from sandboxes.repo_image import ensure_repo_image, image_exists, plan_repo_image

    repo = repo.expanduser()
    settings = load(repo=repo).config.sandbox
    h = home()
    h.ensure(h.images)
    out, err = console(), err_console()
    install = settings.install_project
    if no_build:
        plan = plan_repo_image(repo, settings.image, h.images, rev, install)
        status = (
            "base" if plan.digest is None else ("present" if image_exists(plan) else "not built")
        )
    else:
        built = ensure_repo_image(repo, settings.image, h.images,
                                  lambda m: err.print(f"[dim]{m}[/]"), rev, install, rebuild)  # fmt: skip
        plan, status = built.plan, f"{built.status} ({built.seconds:.1f} s)"
    spec = plan.spec
    out.print(f"image     {plan.tag}", markup=False)
    out.print(f"status    {status}", markup=False)
    if plan.digest:
        out.print(
            f"digest    {plan.digest[:16]}  (Python {plan.target.get('python')})", markup=False
        )
    out.print(f"sources   {', '.join(spec.sources) or '(none)'}", markup=False)
    project = spec.project_name if spec.is_package else None
    installed = "editable" if install else "not installed (sandbox.install_project = false)"
    out.print(
        f"project   {f'{project} ({installed})' if project else '(not a package)'}", markup=False
    )
    out.print(f"requires  {len(spec.requirements)}", markup=False)
    for req in spec.requirements:
        out.print(f"  {req.line}    [{req.source}]", markup=False)
    for line in spec.skipped:
        out.print(f"  skipped: {line}", markup=False)
