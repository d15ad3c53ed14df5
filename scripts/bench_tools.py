"""Latency of each agent tool, end to end through the registry, in real sandboxes.

Usage:
    .venv/bin/python scripts/bench_tools.py [--repo examples/ledger] [--runs 7]
                                            [--sandbox docker|local|both] [--big]

The repository is copied into a private workspace (the user's checkout is never
touched). `--big` adds a search and a listing over a large tree (the Python standard
library, copied into a temporary git repository). Prints the median and the spread
(min–max) in milliseconds for each tool call, per sandbox kind.
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
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandboxes.workspace import Workspace
from tools.base import ToolContext
from tools.protocol import parse_action
from tools.registry import ToolRegistry
from tools.types import ToolCall

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}  # fmt: skip
EDIT_OLD = "        return Money(self.amount + other.amount, self.currency)"
EDIT_NEW = "        return Money(other.amount + self.amount, self.currency)"
REPLY = (
    "The failing test adds two amounts; let me fix the operator.\n```edit\n"
    "path: src/ledger/money.py\n<<<<<<< SEARCH\n" + EDIT_OLD + "\n=======\n" + EDIT_NEW
    + "\n>>>>>>> REPLACE\n```\n"
)  # fmt: skip


def git_repo_copy(source: Path, dest: Path) -> Path:
    """`source` as a committed git repository at `dest` (its own history if it has one)."""
    if (source / ".git").exists():
        subprocess.run(["git", "clone", "-q", str(source), str(dest)], check=True)
        return dest
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "bench"]):
        subprocess.run(cmd, cwd=dest, check=True, env=GIT_ENV, capture_output=True)
    return dest


def open_box(kind: str, repo: Path, scratch: Path):
    where = scratch / uuid.uuid4().hex[:8]
    ws = Workspace.create(repo, where / "ws", where / "snap.git", f"bench-{where.name}")
    if kind == "docker":
        from sandboxes.container import DockerSandbox

        return DockerSandbox(ws)
    from sandboxes.local import LocalSandbox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LocalSandbox(ws)


def measure(fn: Callable[[], object], runs: int) -> list[float]:
    fn()  # warm-up (first container exec, discovery caches)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def bench_kind(kind: str, repo: Path, big: Path | None, runs: int, scratch: Path) -> dict:
    registry = ToolRegistry()
    results: dict[str, list[float]] = {}
    with open_box(kind, repo, scratch) as box:
        ctx = ToolContext(box)

        def tool(name: str, **args):
            def run():
                result = registry.dispatch(ToolCall(name=name, arguments=args), ctx)
                if result.error_kind == "tool_error":
                    raise RuntimeError(result.text)
                return result

            return run

        def edit_and_back():
            registry.dispatch(
                ToolCall(name="edit", arguments={"path": "src/ledger/money.py", "old": EDIT_OLD,
                                                 "new": EDIT_NEW}), ctx)  # fmt: skip
            registry.dispatch(
                ToolCall(name="edit", arguments={"path": "src/ledger/money.py", "old": EDIT_NEW,
                                                 "new": EDIT_OLD}), ctx)  # fmt: skip

        cases = {
            "view file (80-line window)": tool("view", path="src/ledger/money.py", start=75),
            "view directory (2 levels)": tool("view", path="."),
            "search literal, found": tool("search", pattern="Money.parse("),
            "search, nothing found (3 tries)": tool("search", pattern="no_such_name_here"),
            "edit + edit back (2 edits)": edit_and_back,
            "edit refused: not found": tool(
                "edit", path="src/ledger/money.py", old="return self.value * 2", new="x"
            ),
            "bash: true": tool("bash", command="true"),
            "run_tests: one file": tool("run_tests", tests="tests/test_money.py"),
            "run_tests: whole suite": tool("run_tests"),
        }
        for label, fn in cases.items():
            results[label] = measure(fn, runs)
    if big is not None:
        with open_box(kind, big, scratch) as box:
            ctx = ToolContext(box)
            results["big tree: search 'def __init__'"] = measure(
                lambda: registry.dispatch(
                    ToolCall(name="search", arguments={"pattern": "def __init__"}), ctx
                ),
                runs,
            )
            results["big tree: view root"] = measure(
                lambda: registry.dispatch(ToolCall(name="view", arguments={}), ctx), runs
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default="examples/ledger")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sandbox", choices=["docker", "local", "both"], default="both")
    parser.add_argument("--big", action="store_true", help="also a large tree (stdlib)")
    args = parser.parse_args()
    specs = ToolRegistry().specs()
    parse_times = measure(lambda: parse_action(REPLY, specs), 200)
    print(f"parse_action (an edit reply): median {statistics.median(parse_times) * 1000:.0f} µs")
    with tempfile.TemporaryDirectory(prefix="engram-bench-tools-") as tmp:
        scratch = Path(tmp)
        repo = git_repo_copy(Path(args.repo).resolve(), scratch / "repo")
        big = None
        if args.big:
            stdlib = Path(subprocess.check_output(
                [sys.executable, "-c", "import os, sysconfig; print(sysconfig.get_paths()['stdlib'])"],
                text=True).strip())  # fmt: skip
            big = git_repo_copy(stdlib, scratch / "stdlib")
            count = int(subprocess.check_output(["git", "-C", str(big), "ls-files"], text=True)
                        .count("\n"))  # fmt: skip
            print(f"big tree: {stdlib} ({count} files)")
        kinds = ["docker", "local"] if args.sandbox == "both" else [args.sandbox]
        for kind in kinds:
            results = bench_kind(kind, repo, big, args.runs, scratch)
            print(f"\n{kind} sandbox, {args.runs} runs each (ms): median [min–max]")
            for label, times in results.items():
                print(
                    f"  {label:<36} {statistics.median(times):8.1f}  "
                    f"[{min(times):.1f}–{max(times):.1f}]"
                )


if __name__ == "__main__":
    main()
