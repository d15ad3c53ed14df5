#!/usr/bin/env python3
"""Precision / recall of grounding at flagging names the repository lacks.

Runs the labelled sentences about examples/ledger (tests/tools/data/
ledger_grounding.jsonl) through tools.grounding and prints per-sentence and per-name
precision, recall and F1, plus every mistake. Usage:

    .venv/bin/python scripts/bench_grounding.py [--repo PATH] [--data PATH] [--quiet]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.grounding import Grounder  # noqa: E402
from tools.grounding_eval import evaluate, load_labelled  # noqa: E402
from tools.index import SymbolIndex  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=ROOT / "examples" / "ledger")
    parser.add_argument(
        "--data", type=Path, default=ROOT / "tests/tools/data/ledger_grounding.jsonl"
    )
    parser.add_argument("--quiet", action="store_true", help="figures only, not the mistakes")
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="also ground the repository's own README and docstrings (written by its "
        "authors, so every name they report missing is a false alarm)",
    )
    args = parser.parse_args()

    records = load_labelled(args.data)
    started = time.perf_counter()
    grounder = Grounder(SymbolIndex.build(args.repo))
    setup = time.perf_counter() - started
    result = evaluate(records, grounder)

    positives = sum(r.hallucinated for r in records)
    labels = sum(len(r.missing) for r in records)
    print(
        f"labelled set: {args.data.relative_to(ROOT) if args.data.is_relative_to(ROOT) else args.data}"
    )
    print(
        f"sentences: {len(records)} ({positives} name something missing); missing names: {labels}"
    )
    print(f"{'':10} {'precision':>9} {'recall':>7} {'F1':>6}   counts")
    s, n = result.sentences, result.names
    print(f"{'sentence':10} {s.precision:9.3f} {s.recall:7.3f} {s.f1:6.3f}   "
          f"tp={s.tp} fp={s.fp} fn={s.fn} tn={s.tn}")  # fmt: skip
    print(f"{'name':10} {n.precision:9.3f} {n.recall:7.3f} {n.f1:6.3f}   "
          f"reported right={n.reported_right} wrong={n.reported_wrong}; "
          f"labels found={n.labels_found} missed={n.labels_missed}")  # fmt: skip
    per = result.seconds / len(records) * 1000 if records else 0.0
    print(f"time: index + grounder {setup:.2f} s; {per:.1f} ms per text")
    if not args.quiet:
        for line in result.errors:
            print("  " + line)
    if args.self_check:
        self_check(args.repo, grounder)
    return 0


def self_check(repo: Path, grounder: Grounder) -> None:
    """False alarms on text that describes the repository truthfully: its docs."""
    import ast

    texts = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(repo.glob("*.md"))]
    for path in sorted(repo.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append((f"{path.name}:{getattr(node, 'name', '<module>')}", doc))
    checks = alarms = 0
    for where, text in texts:
        result = grounder.check(text)
        checks += len(result.checks)
        for missing in result.missing:
            alarms += 1
            print(f"  false alarm in {where}: {missing.name}")
    print(f"self-check: {len(texts)} texts (README + docstrings), {checks} names checked, "
          f"{alarms} reported missing (all false alarms)")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
