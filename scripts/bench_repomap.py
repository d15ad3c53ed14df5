#!/usr/bin/env python3
"""Repo-map build time: cold (no cache), warm (cache hit) and incremental (one file
changed), on examples/ledger and on a large real repository (the Python standard
library, copied into a temporary git repository so it has a repo id).

Each figure is the median of --runs runs of: index the repository (with the cache
under a throwaway ENGRAM_HOME) + build the graph + rank + render a 1024-token map
focused on one file. Usage:

    .venv/bin/python scripts/bench_repomap.py [--runs 5] [--stdlib PATH] [--skip-stdlib]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.index import SymbolIndex  # noqa: E402
from tools.repomap import Focus, RepoMap  # noqa: E402

DEFAULT_STDLIB = Path("/usr/lib/python3.11")
BUDGET = 1024


def git_repo_copy(source: Path, target: Path) -> Path:
    """`source` copied into a fresh git repository (one commit) at `target`."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "site-packages", "dist-packages",
                                    ".pytest_cache", "EXTERNALLY-MANAGED")  # fmt: skip
    shutil.copytree(source, target, ignore=ignore, symlinks=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}  # fmt: skip
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A", "-f"],
                ["git", "commit", "-q", "-m", "snapshot"]):  # fmt: skip
        subprocess.run(cmd, cwd=target, env=env, check=True, capture_output=True)
    age(target)
    return target


def age(root: Path) -> None:
    """Date every file an hour back, like a checkout made earlier (fresh mtimes sit in
    the racy window, where the index re-hashes instead of trusting stat)."""
    past = time.time() - 3600
    for path in root.rglob("*.py"):
        os.utime(path, (past, past))


def one_build(root: Path, repo_id: str, focus: Focus) -> tuple[float, float, SymbolIndex, int]:
    started = time.perf_counter()
    index = SymbolIndex.for_repo(root, repo_id=repo_id)
    indexed = time.perf_counter()
    rendered = RepoMap(index).render(focus, budget=BUDGET)
    done = time.perf_counter()
    return indexed - started, done - started, index, rendered.tokens


def bench(name: str, root: Path, focus_file: str, runs: int, home: Path) -> None:
    from sandboxes.repo import repo_identity

    repo_id = repo_identity(root).id
    cache = home / "repos" / repo_id / "index.json"
    focus = Focus.of(files=[focus_file])
    results: dict[str, list[tuple[float, float]]] = {"cold": [], "warm": [], "incremental": []}
    last = None
    target = root / focus_file
    original = target.read_text(encoding="utf-8")
    try:
        for i in range(runs):
            cache.unlink(missing_ok=True)
            index_s, total_s, last, tokens = one_build(root, repo_id, focus)
            results["cold"].append((index_s, total_s))
            cold_stats = last.stats
            index_s, total_s, warm, _ = one_build(root, repo_id, focus)
            assert warm.stats.parsed == 0, warm.stats
            results["warm"].append((index_s, total_s))
            target.write_text(original + f"\n\ndef bench_added_{i}():\n    return {i}\n")
            index_s, total_s, inc, _ = one_build(root, repo_id, focus)
            assert inc.stats.parsed == 1, inc.stats
            results["incremental"].append((index_s, total_s))
            target.write_text(original)
            age(root)
    finally:
        target.write_text(original)
    assert last is not None
    defs = sum(len(e.symbols.definitions) for e in last.entries.values())
    size = cache.stat().st_size / 1e6
    print(f"\n{name}: {root}")
    print(f"  files {cold_stats.files}, Python files {cold_stats.python_files}, definitions "
          f"{defs}, index.json {size:.1f} MB, map {tokens} tokens (budget {BUDGET}), "
          f"focus {focus_file}")  # fmt: skip
    print(f"  {'':12} {'index s':>9} {'index+map s':>12}   (median of {runs}; min–max total)")
    for kind, rows in results.items():
        index_med = statistics.median(r[0] for r in rows)
        total = [r[1] for r in rows]
        print(f"  {kind:12} {index_med:9.3f} {statistics.median(total):12.3f}   "
              f"{min(total):.3f}–{max(total):.3f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stdlib", type=Path, default=DEFAULT_STDLIB)
    parser.add_argument("--skip-stdlib", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="engram-bench-repomap-") as tmp:
        tmpdir = Path(tmp)
        os.environ["ENGRAM_HOME"] = str(tmpdir / "home")  # a throwaway cache location
        print(f"machine: {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}")
        ledger = git_repo_copy(ROOT / "examples" / "ledger", tmpdir / "ledger")
        bench("examples/ledger", ledger, "src/ledger/budget.py", args.runs, tmpdir / "home")
        if not args.skip_stdlib:
            stdlib = git_repo_copy(args.stdlib, tmpdir / "stdlib")
            bench("Python standard library", stdlib, "json/decoder.py", args.runs, tmpdir / "home")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
