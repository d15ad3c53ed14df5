"""`engram run` and `engram runs resume|fork`: the agent on a local repository."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer, runs_app: typer.Typer) -> None:
    app.command("run")(run)
    runs_app.command("resume")(resume)
    runs_app.command("fork")(fork)


def _flags(**values):
    return {k: v for k, v in values.items() if v is not None}


def _backend(cfg, h, out):
    from agent.assembly import make_backend

    with out.status(f"loading {cfg.model.name} ({cfg.model.backend} backend)…"):
        return make_backend(cfg, h)


def _adapter_for(backend, home, repo_id: str, use: bool, out):
    """The repo's current adapter, loaded into the backend (never another repo's)."""
    if not use or not backend.capabilities.adapters:
        return None
    try:
        from memory.adapters import load_current_adapter
    except ImportError:
        return None
    chosen = load_current_adapter(backend, home, repo_id)
    if chosen is not None:
        out.print(f"using repo adapter v{chosen[1]} for {repo_id}")
    return chosen


def run(
    problem: str = typer.Argument(None, help="what to do, in words (or use --task-file)"),
    repo: Path = typer.Option(Path("."), "--repo", help="the git repository to work on"),
    task_file: Path = typer.Option(None, "--task-file", help="a Task / SWE-bench instance JSON"),
    fail_to_pass: list[str] = typer.Option(None, "--fail-to-pass", help="test ids that must pass"),
    test_cmd: str = typer.Option(
        None, "--test-cmd", help="how to run the tests (overrides discovery)"
    ),
    base: str = typer.Option(None, "--base", help="commit to start from (default HEAD)"),
    model: str = typer.Option(None, "--model", help="registry name, folder, .gguf or hub id"),
    backend: str = typer.Option(None, "--backend", help="auto | hf | llamacpp | openai"),
    sandbox: str = typer.Option(None, "--sandbox", help="auto | docker | local"),
    max_steps: int = typer.Option(None, "--max-steps"),
    temperature: float = typer.Option(None, "--temperature"),
    seed: int = typer.Option(None, "--seed"),
    best_of: int = typer.Option(
        None, "--best-of", help="up to K samples; the first whose tests pass wins"
    ),
    probes: bool = typer.Option(None, "--probes/--no-probes", help="hallucination probes"),
    adapter: bool = typer.Option(True, "--adapter/--no-adapter", help="use the repo's adapter"),
    notes: bool = typer.Option(
        None, "--notes/--no-notes", help="put the repo's kept notes in the prompts"
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="show whole observations"),
) -> None:
    """Solve a task in a repository: a sandboxed run that leaves a branch and a patch."""
    import json

    from agent.assembly import build_handles
    from agent.cli.common import fail
    from agent.cli.progress import ProgressPrinter, summary
    from agent.run import Runner, new_run_id
    from agent.types import Task
    from sandboxes.repo import repo_identity

    if task_file is not None:
        from bench.tasks import load_task_file

        task = load_task_file(task_file)
    elif problem:
        task = Task(id="cli-" + new_run_id(), repo=str(repo.resolve()), problem_statement=problem,
                    fail_to_pass=fail_to_pass or [], test_command=test_cmd, base_commit=base)  # fmt: skip
    else:
        fail(
            'say what to do: `engram run --repo PATH "fix the failing test in ..."` or --task-file'
        )
    flags = _flags(**{"model.name": model, "model.backend": backend, "sandbox.kind": sandbox,
                      "agent.max_steps": max_steps, "model.temperature": temperature,
                      "model.seed": seed, "probes.enabled": probes,
                      "agent.best_of": best_of, "memory.notes_in_context": notes})  # fmt: skip
    from agent.cli.common import console, home, load

    identity = repo_identity(repo)
    out, cfg, h = console(), load(repo=repo, **flags).config, home()
    h.ensure()
    llm = _backend(cfg, h, out)
    chosen = _adapter_for(llm, h, identity.id, adapter and cfg.memory.use_adapter, out)
    handles = build_handles(cfg, h, task, identity.id, llm, events=ProgressPrinter(out, verbose),
                            adapter=chosen)  # fmt: skip
    out.print(f"[bold]engram run[/] on {identity.name} ({identity.id}) · model {llm.model_id} · "
              f"{'native tools' if handles.native_tools else 'text protocol'}")  # fmt: skip
    out.print(f"[dim]task: {json.dumps(task.problem_statement)[:300]}[/]")
    if cfg.agent.best_of == 1:
        runner = Runner(h, cfg)
        trajectory = runner.start(task, repo, handles)
        summary(out, trajectory, runner.store.run_dir(trajectory.run_id))
    else:
        from agent.explore import explore, verified

        k = cfg.agent.best_of

        def run_sample(index: int, sample_cfg):
            out.print(f"[bold]sample {index + 1} of up to {k}[/] (temperature "
                      f"{sample_cfg.model.temperature}, seed {sample_cfg.model.seed})")  # fmt: skip
            return Runner(h, sample_cfg).start(task, repo, handles)

        def on_sample(index: int, trajectory) -> None:
            state = "tests pass" if verified(trajectory) else "not verified"
            out.print(f"sample {index + 1}: {trajectory.run_id} — {state}")

        found = explore(k, cfg, run_sample, on_sample=on_sample)
        trajectory = found.winner
        assert trajectory is not None
        out.print(f"best of {len(found.samples)}: {found.verified_count} verified; showing "
                  f"{trajectory.run_id}")  # fmt: skip
        summary(out, trajectory, h.run_dir(trajectory.run_id))
    if cfg.memory.auto_every > 0 and trajectory.eligible_for_learning:
        from agent.cli.learn_cmd import auto_learn_after_run

        auto_learn_after_run(repo, cfg, h, out)
    raise typer.Exit(0 if trajectory.resolved else 1)


def _continue(run_id: str, at_step: int | None) -> None:
    from agent.assembly import build_handles
    from agent.cli.common import console, home
    from agent.cli.progress import ProgressPrinter, summary
    from agent.config import EngramConfig
    from agent.run import Runner, RunSpec
    from agent.types import Task

    out, h = console(), home()
    spec = RunSpec.load(h.run_dir(run_id) / "run.json")
    cfg = EngramConfig.model_validate(spec.config)  # the run's own settings, as it started
    llm = _backend(cfg, h, out)
    task = Task.model_validate(spec.task)
    chosen = _adapter_for(llm, h, spec.repo_id, spec.adapter is not None, out)
    handles = build_handles(
        cfg, h, task, spec.repo_id, llm, events=ProgressPrinter(out), adapter=chosen
    )
    runner = Runner(h, cfg)
    if at_step is None:
        out.print(f"resuming {run_id}")
        trajectory = runner.resume(run_id, handles)
    else:
        out.print(f"forking {run_id} after step {at_step}")
        trajectory = runner.fork(run_id, at_step, handles)
    summary(out, trajectory, runner.store.run_dir(trajectory.run_id))


def resume(run_id: str) -> None:
    """Continue a run that was interrupted or killed, files and conversation restored."""
    _continue(run_id, None)


def fork(run_id: str, at: int = typer.Option(..., "--at", help="kept steps to take over")) -> None:
    """Start a new run from a run's state after step AT (files and conversation)."""
    _continue(run_id, at)
