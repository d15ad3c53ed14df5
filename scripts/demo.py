"""`make demo`: the agent, with the embedded model, on a bug in the bundled example.

1. Materialises `examples/ledger` as a git repository under ENGRAM_HOME/examples/.
2. Commits a one-token bug into it (the date helpers put March into Q2).
3. Runs `engram run` on it — the real CLI, the real model, the Docker sandbox — and
   shows every step live. Whatever the model does, the run ends with a saved
   trajectory, a verification, and (if it changed anything) a branch and a patch.

The small embedded model does not always succeed; the demo shows the machinery, and
the numbers for how often it succeeds are in docs/agent.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.examples import commit_all, materialize  # noqa: E402
from agent.home import Home  # noqa: E402

BUG_FILE = "src/ledger/dates.py"
CORRECT = "return (day.month - 1) // 3 + 1"
BUGGY = "return day.month // 3 + 1"
PROBLEM = (
    "Quarterly reports put March into the second quarter: `quarter_of(date(2024, 3, 1))` "
    "returns 2 instead of 1, so `tests/test_dates.py::test_calendar_helpers` fails. "
    "Fix the library code (not the tests)."
)


def main() -> int:
    home = Home.resolve()
    repo = materialize("ledger", home.root / "examples" / "ledger-demo", fresh=True)
    path = repo / BUG_FILE
    source = path.read_text()
    if CORRECT not in source:
        sys.exit(f"demo bug site not found in {path}; update scripts/demo.py")
    path.write_text(source.replace(CORRECT, BUGGY))
    commit_all(repo, "demo: a bug for engram to fix")
    print(f"demo repository: {repo} (bug committed in {BUG_FILE})\n", flush=True)
    engram = str(Path(sys.executable).with_name("engram"))
    cmd = [engram, "run", "--repo", str(repo), "--max-steps", os.environ.get("DEMO_MAX_STEPS", "12"),
           "--fail-to-pass", "tests/test_dates.py::test_calendar_helpers", PROBLEM]  # fmt: skip
    code = subprocess.run(cmd).returncode
    runs = [d for d in home.runs.iterdir() if (d / "trajectory.json").is_file()]
    run_id = max(runs, key=lambda d: d.stat().st_mtime).name if runs else "RUN"
    print(f"\nInspect the run: `engram runs show {run_id}`; "
          f"bring a fix in: `engram runs apply {run_id}`.")  # fmt: skip
    # The demo succeeds when the run ran to its end, whether or not the model fixed the bug.
    return 0 if code in (0, 1) else code


if __name__ == "__main__":
    sys.exit(main())
