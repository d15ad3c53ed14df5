"""The agent on generated tasks of the bundled example, with the embedded model: measured.

Usage:
    .venv/bin/python scripts/bench_agent.py [-n 10] [--tasks bench/data/ledger.jsonl]
        [--difficulty 1] [--max-steps 6] [--out /tmp/engram-bench-agent.jsonl]
    .venv/bin/python scripts/bench_agent.py --summarize /tmp/engram-bench-agent.jsonl

Each task (a bug the generator injected into `examples/ledger` and validated: named failing
tests, the rest passing) is run by the real agent — `Runner.start`, the configured backend
(the embedded Qwen2.5-Coder-0.5B-Instruct by default), the Docker sandbox — exactly as
`engram run` does, with the step budget given here. One JSON line per task is appended to
--out as soon as the task ends, so a killed run resumes where it stopped.

Printed: resolved rate (the run's own verification: every FAIL_TO_PASS and PASS_TO_PASS
test passes on the final tree), format-error rate (model replies that did not parse into
one valid action), median steps, and the median wall time per step split into
model (generation), tools (the tool's own work in the sandbox), snapshot (the workspace
snapshot after a mutating step), monitor (probes) and framework (the rest: graph,
checkpointing, trajectory writes, prompt assembly). The framework share is what the
issue bounds (< 5 % of step time). Per-run costs outside steps (sandbox start, repo map,
final verification) are printed apart.

Config comes from the usual layers; set `ENGRAM_MODEL__THREADS=1` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]


def pick_tasks(path: Path, n: int, difficulty: int | None) -> list:
    from bench.tasks import load_tasks

    tasks = load_tasks(path)
    if difficulty is not None:
        tasks = [t for t in tasks if (t.difficulty or 1) == difficulty]
    # A fixed, documented order: the file's order (seeded by the generator).
    return tasks[:n]


def run_one(task, config, home, backend) -> dict:
    from agent.assembly import build_handles
    from agent.run import Runner
    from bench.repos import task_checkout
    from sandboxes.repo import repo_identity

    checkout = task_checkout(task, home)
    agent_task = task.to_task()
    started = time.perf_counter()
    handles = build_handles(config, home, agent_task, repo_identity(checkout).id, backend)
    built = time.perf_counter() - started
    trajectory = Runner(home, config).start(agent_task, checkout, handles)
    wall = time.perf_counter() - started
    steps = []
    for step in trajectory.steps:
        t = step.timings
        steps.append({
            "actor": step.actor, "tool": step.action.name if step.action else None,
            "format_error": step.format_error is not None, "resampled": step.resampled,
            "rolled_back": step.rolled_back, "repeat_of": step.repeat_of,
            "model_s": t.model_s, "tools_s": t.tools_s, "snapshot_s": t.snapshot_s,
            "monitor_s": t.monitor_s, "total_s": t.total_s,
        })  # fmt: skip
    verification = trajectory.verification
    return {
        "instance_id": task.instance_id,
        "difficulty": task.difficulty,
        "run_id": trajectory.run_id,
        "exit_status": str(trajectory.exit_status),
        "resolved": bool(verification and verification.passed),
        "verification_s": verification.duration_s if verification else None,
        "handles_s": built,
        "wall_s": wall,
        "steps": steps,
    }


def run_split(rows: list[dict]) -> dict[str, float]:
    """Shares of all runs' wall time: generation (resampled replies too), tools, snapshots,
    probes, final verification, and the rest (graph, checkpoints, workspace and sandbox
    set-up, trajectory writes) — the rest is an upper bound on the framework's cost."""
    wall = sum(r["wall_s"] for r in rows) or 1e-9
    sums = {k: sum(s[k] for r in rows for s in r["steps"]) for k in ("model_s", "tools_s", "snapshot_s", "monitor_s")}  # fmt: skip
    verification = sum(r["verification_s"] or 0 for r in rows)
    rest = wall - sum(sums.values()) - verification
    shares = {k[:-2]: v / wall for k, v in sums.items()}
    return {**shares, "verification": verification / wall, "rest": rest / wall}


def summarize(rows: list[dict]) -> str:
    def med(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")

    n = len(rows)
    resolved = sum(r["resolved"] for r in rows)
    model_steps = [s for r in rows for s in r["steps"] if s["actor"] == "model"]
    format_errors = sum(s["format_error"] for s in model_steps)
    steps_per_run = [len([s for s in r["steps"] if not s["resampled"]]) for r in rows]
    timed = [s for s in model_steps if s["total_s"] > 0]
    parts = {k: med([s[k] for s in timed]) for k in ("model_s", "tools_s", "snapshot_s", "monitor_s", "total_s")}  # fmt: skip
    framework = [max(0.0, s["total_s"] - s["model_s"] - s["tools_s"] - s["snapshot_s"] - s["monitor_s"]) for s in timed]  # fmt: skip
    shares = [f / s["total_s"] for f, s in zip(framework, timed, strict=True)]
    total_framework = sum(framework)
    total_step = sum(s["total_s"] for s in timed)
    statuses: dict[str, int] = {}
    for r in rows:
        statuses[r["exit_status"]] = statuses.get(r["exit_status"], 0) + 1
    tools: dict[str, int] = {}
    for s in model_steps:
        tools[s["tool"] or "(none)"] = tools.get(s["tool"] or "(none)", 0) + 1
    lines = [
        f"tasks: {n}   resolved: {resolved}/{n} ({resolved / max(n, 1):.0%})",
        f"exit statuses: {statuses}",
        f"model replies: {len(model_steps)}   format errors: {format_errors} "
        f"({format_errors / max(len(model_steps), 1):.1%})   resampled: "
        f"{sum(s['resampled'] for s in model_steps)}   repeats: "
        f"{sum(s['repeat_of'] is not None for s in model_steps)}",
        f"actions: {dict(sorted(tools.items(), key=lambda kv: -kv[1]))}",
        f"median steps per run: {med(steps_per_run):.1f}",
        "median per step (s): "
        + "  ".join(f"{k[:-2]} {v:.2f}" for k, v in parts.items())
        + f"  framework {med(framework):.3f}",
        f"framework share of step time: median {med(shares):.2%}, "
        f"overall {total_framework / max(total_step, 1e-9):.2%} "
        f"({total_framework:.1f} s of {total_step:.1f} s)",
        "whole runs (all steps, resampled ones included): "
        + "  ".join(f"{k} {v:.1%}" for k, v in run_split(rows).items()),
        f"per run (median s): handles {med([r['handles_s'] for r in rows]):.1f}  "
        f"verification {med([r['verification_s'] or 0 for r in rows]):.1f}  "
        f"wall {med([r['wall_s'] for r in rows]):.0f}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--tasks", type=Path, default=ROOT / "bench/data/ledger.jsonl")
    parser.add_argument("--difficulty", type=int, default=1, help="sites per task; 0: any")
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("/tmp/engram-bench-agent.jsonl"))
    parser.add_argument("--summarize", type=Path, help="print the figures of a results file")
    args = parser.parse_args()
    if args.summarize:
        rows = [json.loads(line) for line in args.summarize.read_text().splitlines() if line]
        print(summarize(rows))
        return

    from agent.assembly import make_backend
    from agent.config import load_config
    from agent.home import Home

    config = load_config(flags={"sandbox.kind": "docker", "agent.max_steps": args.max_steps}).config
    home = Home.resolve()
    done = set()
    if args.out.exists():
        done = {
            json.loads(line)["instance_id"] for line in args.out.read_text().splitlines() if line
        }
    tasks = pick_tasks(args.tasks, args.n, args.difficulty or None)
    print(f"{len(tasks)} tasks from {args.tasks.name}, {len(done)} already done; "
          f"model {config.model.name} via {config.model.backend}, max_steps {args.max_steps}",
          flush=True)  # fmt: skip
    backend = make_backend(config, home)
    try:
        for task in tasks:
            if task.instance_id in done:
                continue
            row = run_one(task, config, home, backend)
            with args.out.open("a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(f"{row['instance_id']}: {row['exit_status']} resolved={row['resolved']} "
                  f"steps={len(row['steps'])} wall={row['wall_s']:.0f}s", flush=True)  # fmt: skip
    finally:
        backend.close()
    rows = [json.loads(line) for line in args.out.read_text().splitlines() if line]
    print(summarize([r for r in rows if r["instance_id"] in {t.instance_id for t in tasks}]))


if __name__ == "__main__":
    main()
