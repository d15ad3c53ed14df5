"""Print the figures of docs/bench.md from task sets, their generation statistics, and grades.

    python scripts/bench_taskgen_figures.py bench/data/ledger.jsonl bench/data/toolz.jsonl \
        [--grades ledger=grades-ledger.jsonl --grades toolz=grades-toolz.jsonl]

For each task file it reads `<name>.stats.json` next to it (written by `engram bench
generate`) and prints: candidates tried / kept per mutation kind with the discard
reasons, tasks by number of sites, the splits, and validation time per task (the
generator's total over every candidate it considered, divided by the tasks it made;
and the median over tasks of the time spent validating that task's own candidates).
With `--grades NAME=FILE` (from `engram bench grade … --out FILE`) it adds how many
graded tasks resolved and the median seconds per grade.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from bench.splits import split_summary
from bench.tasks import load_tasks


def kinds_table(stats: dict) -> list[str]:
    lines = ["| kind | sites | tried | kept | kept % | in tasks | discarded |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]  # fmt: skip
    totals = Counter()
    for kind, row in stats["kinds"].items():
        why = ", ".join(f"{k} {v}" for k, v in sorted(row["statuses"].items())
                        if k not in ("kept", "invalid"))  # fmt: skip
        rate = f"{100 * row['kept'] / row['tried']:.0f}" if row["tried"] else "-"
        lines.append(f"| {kind} | {row['sites']} | {row['tried']} | {row['kept']} | {rate} | "
                     f"{row['in_tasks']} | {why or '–'} |")  # fmt: skip
        totals.update({k: row[k] for k in ("sites", "tried", "kept", "in_tasks")})
    rate = 100 * totals["kept"] / totals["tried"] if totals["tried"] else 0
    lines.append(f"| **all** | {totals['sites']} | {totals['tried']} | {totals['kept']} | "
                 f"{rate:.0f} | {totals['in_tasks']} | |")  # fmt: skip
    return lines


def report(path: Path, grades: Path | None) -> None:
    tasks = load_tasks(path)
    stats = json.loads(path.with_name(path.name.removesuffix(".jsonl") + ".stats.json").read_text())
    print(f"### {path.name} — {stats['repo']} (clean commit {stats['clean_commit'][:12]})\n")
    print(f"{stats['tests_in_suite']} tests in the suite, baseline run {stats['baseline_s']} s; "
          f"{stats['sandbox']} sandbox, {stats['options']['workers']} workers.\n")  # fmt: skip
    print("\n".join(kinds_table(stats)) + "\n")
    sizes = Counter(t.difficulty for t in tasks)
    f2p = [len(t.FAIL_TO_PASS) for t in tasks]
    print(
        f"- tasks: {len(tasks)}; by sites {dict(sorted(sizes.items()))}; multi-site "
        f"combinations kept {stats['combinations_kept']} of {stats['combinations_tried']}"
    )
    print(f"- FAIL_TO_PASS per task: median {statistics.median(f2p):g}, max {max(f2p)}")
    print(
        f"- validation time per task: {stats['validation_s_per_task']} s (all "
        f"{stats['validation_s_total']} s of candidate runs / {stats['tasks']} tasks); "
        f"median of a task's own candidates "
        f"{statistics.median(t.validation_s or 0 for t in tasks):.1f} s; median per candidate "
        f"run {stats['candidate_s_median']} s"
    )
    splits = Counter((t.split, t.group) for t in tasks)
    print(
        f"- splits: train {splits[('train', 'in_kind')]}, test {splits[('test', 'in_kind')]} "
        f"in-kind + {splits[('test', 'heldout_kind')]} held-out-kind"
    )
    print("- by primary kind (train/test/held-out): " + ", ".join(
        f"{k} {r['train']}/{r['test']}/{r['heldout_kind']}"
        for k, r in sorted(split_summary(tasks).items())))  # fmt: skip
    if grades is not None:
        rows = [json.loads(line) for line in grades.read_text().splitlines() if line.strip()]
        resolved = sum(r["resolved"] for r in rows)
        seconds = statistics.median(r["duration_s"] for r in rows)
        print(f"- gold patches: {resolved}/{len(rows)} resolved; median {seconds:.1f} s per grade")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+", type=Path)
    parser.add_argument("--grades", action="append", default=[], help="NAME=FILE")
    args = parser.parse_args()
    grades = dict(item.split("=", 1) for item in args.grades)
    for path in args.tasks:
        name = path.name.removesuffix(".jsonl")
        report(path, Path(grades[name]) if name in grades else None)


if __name__ == "__main__":
    main()
