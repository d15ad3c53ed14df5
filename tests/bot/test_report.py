"""What the bot writes on GitHub: markers that survive round trips, bounded bodies, honest tests."""

from __future__ import annotations

from pathlib import Path

from agent.types import ExitStatus, TestOutcome, Verification
from bot import report
from bot.runner import ProbeSummary, RunOutcome

DIFF = (
    "diff --git a/widgets/core.py b/widgets/core.py\n--- a/widgets/core.py\n+++ b/widgets/core.py\n"
    "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    "diff --git a/NEW.md b/NEW.md\n--- /dev/null\n+++ b/NEW.md\n@@ -0,0 +1,2 @@\n+one\n+two\n"
)


def outcome(**changes) -> RunOutcome:
    base = dict(
        run_id="run-1",
        branch="engram/run-1",
        base_commit="a" * 40,
        commit="b" * 40,
        diff=DIFF,
        summary="fixed add",
        exit_status=ExitStatus.SUBMITTED,
        steps=3,
        trajectory_path=Path("/x/trajectory.json"),
    )
    return RunOutcome(**{**base, **changes})


def test_diff_stats():
    stats = report.diff_stats(DIFF)
    assert [(s.path, s.added, s.removed) for s in stats] == [
        ("widgets/core.py", 1, 1),
        ("NEW.md", 2, 0),
    ]


def test_run_marker_round_trips_through_the_body():
    body = report.pull_body(outcome(), issue=4, job_id=17, requested_by="m")
    marker = report.parse_run_marker(body)
    assert marker == report.RunMarker("run-1", 17, "b" * 40)
    assert report.parse_run_marker("no marker here") is None


def test_failing_tests_are_listed_first_and_output_shown():
    verification = Verification(
        command="pytest",
        passed=False,
        summary="1 failed, 1 passed",
        output_tail="E  assert 1 == 2",
        outcomes=[
            TestOutcome(test_id="t::ok", passed=True),
            TestOutcome(test_id="t::bad", passed=False),
        ],
    )
    text = report.tests_section(verification)
    assert "❌ failed" in text and text.index("t::bad") < text.index("t::ok")
    assert "assert 1 == 2" in text
    assert "No tests were run" in report.tests_section(None)


def test_probe_section_says_when_probes_did_not_run():
    assert "did not run" in report.probes_section(ProbeSummary(note="no probe for this model"))


def test_huge_diff_and_summary_are_cut_and_the_marker_survives():
    huge = DIFF + "+x\n" * 100_000
    body = report.pull_body(outcome(diff=huge, summary="s" * 100_000), 4, 1, "m")
    assert len(body) <= 65_536
    assert "characters cut" in body
    assert report.parse_run_marker(body) is not None


def test_backticks_in_the_diff_cannot_break_out_of_the_fence():
    text = report._fence("```\n# injected heading\n```", "diff")
    assert text.startswith("````diff") and text.endswith("````")
