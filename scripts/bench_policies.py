"""Resolved rate (pass@1) of the free-form and the small-model policy on generated tasks,
with the real model and the Docker sandbox, and a failure taxonomy counted from the runs'
trajectories.

    ENGRAM_MODEL__THREADS=1 nice -n 5 .venv/bin/python scripts/bench_policies.py \\
        --tasks bench/data/ledger.jsonl --split test --difficulty 1 -n 10 \\
        --policy small --out /tmp/policies-small.jsonl

`--model NAME`, `--constrained` and `--best-of K` make the other arms (0.5B vs 1.5B, grammar
or not, pass@1 vs pass@k: a best-of-k row keeps sample 0's verdict as its pass@1).

Each finished task is appended to `--out` at once (a rerun skips tasks already there),
so a long run can be summarised while it goes: `--summarize FILE [FILE …]`.

The bug's lines (from the gold patch, `bench.taxonomy`) are read only after the run, to tell a
wrong location from a wrong edit; the agent never sees them or the fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.taxonomy import CAUSES, bug_sites, classify, step_counts  # noqa: E402


def run_tasks(args: argparse.Namespace) -> None:
    from agent.assembly import build_handles, make_backend
    from agent.config import load_config
    from agent.explore import explore, verified
    from agent.home import Home
    from agent.monitor import AcceptAll
    from agent.run import Runner
    from bench.repos import task_checkout
    from bench.tasks import load_tasks
    from sandboxes.repo import repo_identity

    tasks = [t for t in load_tasks(Path(args.tasks)) if args.split in (None, t.split)]
    if args.difficulty:
        tasks = [t for t in tasks if t.difficulty == args.difficulty]
    tasks = tasks[: args.n]
    out = Path(args.out)
    done = set()
    if out.exists():
        done = {json.loads(line)["task"] for line in out.read_text().splitlines() if line}
    flags = {"agent.policy": args.policy, "sandbox.kind": "docker",
             "agent.max_steps": args.max_steps, "agent.max_wall_s": args.max_wall_s,
             "agent.constrained": args.constrained}  # fmt: skip
    if args.model:
        flags["model.name"] = args.model
    config = load_config(flags=flags).config
    home = Home.resolve()
    backend = make_backend(config, home)
    print(f"{len(tasks)} tasks, policy {args.policy}, model {backend.model_id} "
          f"({backend.name}, threads {config.model.threads})", flush=True)  # fmt: skip
    for bt in tasks:
        if bt.instance_id in done:
            continue
        checkout = task_checkout(bt, home)
        task = bt.to_task()
        handles = build_handles(config, home, task, repo_identity(checkout).id, backend,
                                monitor=AcceptAll())  # fmt: skip
        started = time.perf_counter()
        found = explore(args.best_of, config,
                        lambda i, cfg, t=task, c=checkout, h=handles: Runner(home, cfg).start(t, c, h))  # fmt: skip
        wall = time.perf_counter() - started
        trajectory = found.winner
        cause, counts = classify(trajectory, bug_sites(bt.patch)), step_counts(trajectory)
        row = {
            "task": bt.instance_id, "policy": handles.policy.name, "model": backend.model_id,
            "constrained": args.constrained, "best_of": args.best_of,
            "resolved": verified(trajectory), "pass1": verified(found.samples[0]),
            "samples": [verified(t) for t in found.samples],
            "exit": str(trajectory.exit_status), "cause": cause, "wall_s": round(wall, 1),
            "completion_tokens": sum(t.usage.completion_tokens for t in found.samples),
            "run_id": trajectory.run_id, "kinds": bt.kinds, **counts,
        }  # fmt: skip
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)
    backend.close()


def summarize(paths: list[str]) -> None:
    from bench.stats import wilson

    rows = [json.loads(line) for p in paths for line in Path(p).read_text().splitlines() if line]
    by_policy: dict[str, list[dict]] = {}
    for row in rows:
        key = row["policy"]
        if row.get("model"):
            key += " · " + row["model"].split("/")[-1]
        if row.get("constrained"):
            key += " · constrained"
        if row.get("best_of", 1) > 1:
            key += f" · best of {row['best_of']}"
        by_policy.setdefault(key, []).append(row)
    header = "| arm | tasks | resolved | rate | 95% Wilson | pass@1 | median s/task | "
    header += " | ".join(CAUSES) + " | repeats | malformed steps |"
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for policy, items in sorted(by_policy.items()):
        n, k = len(items), sum(r["resolved"] for r in items)
        lo, hi = wilson(k, n)
        walls = sorted(r["wall_s"] for r in items)
        median = walls[len(walls) // 2] if n % 2 else (walls[n // 2 - 1] + walls[n // 2]) / 2
        causes = Counter(r["cause"] for r in items)
        cells = " | ".join(str(causes.get(c, 0)) for c in CAUSES)
        p1 = sum(r.get("pass1", r["resolved"]) for r in items)
        print(f"| {policy} | {n} | {k} | {k / n:.0%} | {lo:.0%}–{hi:.0%} | {p1 / n:.0%} | "
              f"{median:.0f} | {cells} "
              f"| {sum(r['repeats'] for r in items)} | {sum(r['malformed'] for r in items)} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", default="bench/data/ledger.jsonl")
    parser.add_argument("--split", default="test")
    parser.add_argument("--difficulty", type=int, default=1, help="mutation sites; 0 = any")
    parser.add_argument("-n", type=int, default=10)
    parser.add_argument("--policy", choices=["small", "freeform"], default="small")
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--model", help="registry name (default: the configured model)")
    parser.add_argument("--constrained", action="store_true", help="grammar-constrained actions")
    parser.add_argument("--best-of", type=int, default=1, help="k samples; first verified wins")
    parser.add_argument("--max-wall-s", type=float, default=900.0)
    parser.add_argument("--out", default="/tmp/bench_policies.jsonl")
    parser.add_argument("--summarize", nargs="+", metavar="FILE")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
    else:
        run_tasks(args)
        summarize([args.out])


if __name__ == "__main__":
    main()
