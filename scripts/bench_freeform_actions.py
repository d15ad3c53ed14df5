"""What free-form runs did: actions by tool, missing paths, edits and test runs.

    .venv/bin/python scripts/bench_freeform_actions.py BENCH_RUN [BENCH_RUN ...]

BENCH_RUN is a bench run's name (under $ENGRAM_HOME/bench) or directory. Every action
the model proposed counts, resampled repeats included (they are steps of the
trajectory). Printed per bench run, as one JSON line:

- `actions` and `by_tool`;
- `missing_path_views`: views answered "does not exist"; `sample_project_views`: views
  of the bundled sample project's `src/ledger/…` paths (what a copied prompt example
  looks like on another repository);
- `runs_with_an_edit` (edit or create proposed), `runs_that_tested` (run_tests, or
  pytest through bash), `median_distinct_actions` per run;
- `resampled`, `format_errors`, `replies` from the bench's task records.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def bench_dir(ref: str) -> Path:
    from agent.home import Home

    path = Path(ref)
    return path if path.is_dir() else Home.resolve().root / "bench" / ref


def summarise(bench: Path, runs: Path) -> dict:
    by_tool: collections.Counter[str] = collections.Counter()
    totals = collections.Counter()
    distinct: list[int] = []
    for record_path in sorted((bench / "tasks").glob("*.json")):
        record = json.loads(record_path.read_text())
        for key in ("resampled", "format_errors", "model_steps"):
            totals[key] += record.get(key) or 0
        steps = runs / record["run_id"] / "steps.jsonl"
        if not steps.is_file():
            totals["runs_missing"] += 1
            continue
        seen: set[str] = set()
        edited = tested = False
        for line in steps.read_text().splitlines():
            step = json.loads(line)
            action = step.get("action")
            if not action:
                continue
            name, args = action["name"], action.get("arguments") or {}
            by_tool[name] += 1
            observation = step.get("observation") or {}
            if name == "view":
                totals["sample_project_views"] += "src/ledger" in str(args.get("path", ""))
                totals["missing_path_views"] += observation.get("error_kind") == "not_found"
            edited |= name in ("edit", "create")
            tested |= name == "run_tests" or (name == "bash" and "pytest" in json.dumps(args))
            seen.add(name + json.dumps(args, sort_keys=True))
        distinct.append(len(seen))
        totals["runs_with_an_edit"] += edited
        totals["runs_that_tested"] += tested
    return {
        "bench_run": bench.name,
        "runs": len(distinct),
        "actions": sum(by_tool.values()),
        "by_tool": dict(by_tool.most_common()),
        "missing_path_views": totals["missing_path_views"],
        "sample_project_views": totals["sample_project_views"],
        "runs_with_an_edit": totals["runs_with_an_edit"],
        "runs_that_tested": totals["runs_that_tested"],
        "median_distinct_actions": statistics.median(distinct) if distinct else None,
        "resampled": totals["resampled"],
        "format_errors": totals["format_errors"],
        "replies": totals["model_steps"],
        "runs_missing": totals["runs_missing"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench_runs", nargs="+")
    parser.add_argument("--runs", type=Path, default=None,
                        help="the run store (default: $ENGRAM_HOME/runs)")  # fmt: skip
    args = parser.parse_args()
    from agent.home import Home

    runs = args.runs or Home.resolve().runs
    for ref in args.bench_runs:
        bench = bench_dir(ref)
        if not (bench / "tasks").is_dir():
            sys.exit(f"{bench} is not a bench run (no tasks/ folder)")
        print(json.dumps(summarise(bench, runs)), flush=True)


if __name__ == "__main__":
    main()
