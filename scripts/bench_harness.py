"""Harness measurement: tasks per hour at --workers 1 and 2, and the harness's own time
per task.

    .venv/bin/python scripts/bench_harness.py [--tasks bench/data/ledger.jsonl] [-n 6]
        [--workers 1,2] [--backend oracle|hf] [--max-steps 4] [--max-resamples 1]
        [--max-new-tokens 160] [--threads 1] [--json out.json]

Each configuration is one real `engram bench run` (a subprocess, exactly as a user runs
it: Docker sandbox, the agent's run in one fresh sandbox, grading in another) on the
same seeded sample of the test split, in a scratch ENGRAM_HOME sharing the models.

- `--backend oracle`: the scripted model that replays each task's gold patch (no model
  time), so the figures are the harness itself: checkout, sandboxes, the graph, the
  agent's tools and final test run, grading, bookkeeping.
- `--backend hf`: the embedded model, in-process; keep `--max-steps` small.

Printed per configuration: wall time of the command (model load included), the span
from the first task's start to the last task's end, tasks per hour over that span, and
per-task medians of the stored timings — total, the harness's own time (everything but
the model's time, the agent's tools and its final test run: setup, sandbox start and
teardown, the graph's framework time, grading, bookkeeping) and its parts. The machine's
load average is printed too: its 2 cores are shared, and every figure moves with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGRAM = str(Path(sys.executable).with_name("engram"))
PARTS = ("setup_s", "run_overhead_s", "framework_s", "grading_s", "model_s", "tools_s", "verify_s")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_once(home: Path, args: argparse.Namespace, workers: int) -> dict:
    name = f"harness-{args.backend}-w{workers}"
    cmd = [ENGRAM, "bench", "run", "--tasks", str(args.tasks), "--split", "test",
           "--limit", str(args.n), "--seed", "0", "--workers", str(workers),
           "--sandbox", "docker", "--max-steps", str(args.max_steps),
           "--max-resamples", str(args.max_resamples), "--name", name,
           "--no-report"]  # fmt: skip
    if args.backend == "oracle":
        cmd.append("--oracle")
    else:
        cmd += ["--backend", args.backend, "--threads", str(args.threads),
                "--max-new-tokens", str(args.max_new_tokens)]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    results = [json.loads(p.read_text()) for p in (home / "bench" / name / "tasks").glob("*.json")]
    starts = [datetime.fromisoformat(r["started_at"]) for r in results]
    ends = [datetime.fromisoformat(r["ended_at"]) for r in results]
    span = (max(ends) - min(starts)).total_seconds()
    timings = [r["timings"] for r in results]
    statuses = sorted({r["status"] for r in results})
    harness = [t["total_s"] - t["model_s"] - t["tools_s"] - t["verify_s"] for t in timings]
    bookkeeping = [
        t["total_s"] - t["setup_s"] - t["agent_s"] - t["grading_s"] for t in timings
    ]  # what the runner does after grading: result files, trajectory, cleanup
    return {
        "backend": args.backend,
        "workers": workers,
        "tasks": len(results),
        "statuses": {s: sum(r["status"] == s for r in results) for s in statuses},
        "wall_s": round(wall, 1),
        "span_s": round(span, 1),
        "tasks_per_hour": round(len(results) / span * 3600, 1),
        "median_total_s": round(median([t["total_s"] for t in timings]), 2),
        "median_harness_s": round(median(harness), 2),
        "median_bookkeeping_s": round(median(bookkeeping), 2),
        **{f"median_{p}": round(median([t[p] for t in timings]), 2) for p in PARTS},
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "command": " ".join(cmd[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=Path, default=ROOT / "bench/data/ledger.jsonl")
    parser.add_argument("-n", type=int, default=6, help="tasks per configuration")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--backend", default="oracle", choices=["oracle", "hf", "llamacpp"])
    parser.add_argument("--max-steps", type=int, default=4)
    parser.add_argument("--max-resamples", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=160)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="engram-harness-") as tmp:
        home = Path(tmp) / "home"
        env = {**os.environ, "ENGRAM_HOME": str(home)}
        subprocess.run([ENGRAM, "bench", "prepare", str(args.tasks)], env=env, check=True,
                       capture_output=True)  # fmt: skip
        for workers in [int(w) for w in args.workers.split(",")]:
            row = run_once(home, args, workers)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print()
    print("| backend | workers | tasks | statuses | wall s | span s | tasks/h | median task s "
          "| median harness s | setup | sandbox+run | framework | grading | bookkeeping "
          "| model | tools+verify | load |")  # fmt: skip
    print("|" + " --- |" * 17)
    for r in rows:
        print(f"| {r['backend']} | {r['workers']} | {r['tasks']} | {r['statuses']} "
              f"| {r['wall_s']} | {r['span_s']} | {r['tasks_per_hour']} | {r['median_total_s']} "
              f"| {r['median_harness_s']} | {r['median_setup_s']} | {r['median_run_overhead_s']} "
              f"| {r['median_framework_s']} | {r['median_grading_s']} "
              f"| {r['median_bookkeeping_s']} | {r['median_model_s']} "
              f"| {round(r['median_tools_s'] + r['median_verify_s'], 2)} "
              f"| {r['load_avg_1m']} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
