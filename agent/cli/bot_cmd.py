"""`engram bot action | serve | worker | status` — the GitHub bot (see docs/bot.md)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="GitHub bot: label an issue (or comment /engram) and engram opens a draft PR.",
    no_args_is_help=True,
)

RUNNER_HELP = "agent runner factory, module:callable (default: the engram agent)"


def _context(api_url: str | None, runner: str | None):
    """Logging with redaction, credentials (removed from the environment), queue, runner."""
    from agent.cli.common import home as resolve_home
    from agent.cli.common import load
    from bot.context import BotContext, bot_dir, queue_path
    from bot.credentials import load_credentials
    from bot.queue import JobQueue
    from bot.redact import Redactor, install_log_redaction
    from bot.runner import DEFAULT_RUNNER, load_runner, resolve_runner_factory
    from bot.verdict import resolve_learn_hook

    redactor = Redactor()
    install_log_redaction(redactor)
    cfg = load().config
    home = resolve_home()
    home.ensure(bot_dir(home))
    url = api_url or cfg.bot.api_url
    credentials = load_credentials(url, redactor)
    spec = runner or DEFAULT_RUNNER
    resolve_runner_factory(spec)  # fail at start-up, not on the first issue
    return BotContext(
        settings=cfg.bot,
        home=home,
        queue=JobQueue(queue_path(home), cfg.bot.max_attempts),
        credentials=credentials,
        api_url=url,
        redactor=redactor,
        runner_factory=lambda: load_runner(spec, cfg),
        learn_hook=resolve_learn_hook() if cfg.bot.auto_learn else None,
    )


@app.command("action")
def action(
    runner: str = typer.Option(None, "--runner", help=RUNNER_HELP),
    deadline_s: float = typer.Option(None, "--deadline", help="stop waiting for retries after"),
) -> None:
    """Handle the event of the current GitHub Actions job (reads GITHUB_* variables)."""
    import os

    from agent.cli.common import console
    from bot.action import read_event, run_action

    event = read_event(os.environ)
    ctx = _context(event.api_url, runner)
    report = run_action(event, ctx, deadline_s=deadline_s)
    out = console()
    out.print(f"delivery {report.delivery_id}: {report.status} {report.reason}".rstrip())
    for job in report.jobs:
        detail = job.result or {}
        link = detail.get("pull_url") or detail.get("reason") or job.error or ""
        out.print(
            f"job {job.id} {job.kind.value} {job.repo}#{job.number}: {job.state.value} {link}"
        )
    if report.failed:
        raise typer.Exit(1)


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8080, help="port to listen on"),
    path: str = typer.Option("/webhook", help="URL path GitHub posts to"),
) -> None:
    """Receive GitHub webhooks: verify, deduplicate, queue (run `engram bot worker` too).

    Needs ENGRAM_WEBHOOK_SECRET; holds no GitHub token.
    """
    import uvicorn

    from agent.cli.common import home as resolve_home
    from agent.cli.common import load
    from bot.context import bot_dir, queue_path
    from bot.credentials import load_webhook_secret
    from bot.queue import JobQueue
    from bot.redact import Redactor, install_log_redaction
    from bot.webhook import create_app

    redactor = Redactor()
    install_log_redaction(redactor)
    secret = load_webhook_secret(redactor)
    cfg = load().config
    home = resolve_home()
    home.ensure(bot_dir(home))
    queue = JobQueue(queue_path(home), cfg.bot.max_attempts)
    app_ = create_app(queue, secret, cfg.bot, path=path)
    uvicorn.run(
        app_,
        host=host,
        port=port,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


@app.command("worker")
def worker(
    runner: str = typer.Option(None, "--runner", help=RUNNER_HELP),
    once: bool = typer.Option(False, "--once", help="process what is ready, then exit"),
    lease_s: float = typer.Option(120.0, "--lease", help="job lease in seconds (renewed)"),
    poll_s: float = typer.Option(1.0, "--poll", help="seconds between polls when idle"),
) -> None:
    """Process queued jobs until stopped (SIGTERM/Ctrl-C finishes the current job first)."""
    import signal
    import threading

    from bot.worker import Worker

    ctx = _context(None, runner)
    w = Worker(ctx, lease_s=lease_s, poll_s=poll_s)
    if once:
        w.drain(wait_for_retries=False)
        return
    stop = threading.Event()

    def on_signal(signum, frame):  # second signal: leave now, the lease brings the job back
        if stop.is_set():
            raise SystemExit(130)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    w.serve(stop)


@app.command("status")
def status(
    limit: int = typer.Option(20, help="how many recent jobs to list"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Queue counts and recent jobs."""
    import json

    from rich.table import Table

    from agent.cli.common import console, load
    from agent.cli.common import home as resolve_home
    from bot.context import queue_path
    from bot.queue import JobQueue

    home = resolve_home()
    path = queue_path(home)
    if not path.exists():
        console().print(f"no bot queue at {path} yet")
        return
    queue = JobQueue(path, load().config.bot.max_attempts)
    jobs = queue.jobs(limit=limit)
    if as_json:
        print(
            json.dumps(
                {"counts": queue.counts(), "jobs": [j.model_dump(mode="json") for j in jobs]},
                indent=2,
            )
        )
        return
    out = console()
    out.print(" ".join(f"{k}={v}" for k, v in queue.counts().items()))
    table = Table("job", "kind", "issue/PR", "state", "attempts", "result")
    for job in jobs:
        detail = job.result or {}
        table.add_row(
            str(job.id),
            job.kind.value,
            f"{job.repo}#{job.number}",
            job.state.value,
            f"{job.attempts}/{job.max_attempts}",
            str(detail.get("pull_url") or detail.get("reason") or job.error or ""),
        )
    out.print(table)
