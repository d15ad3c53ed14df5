"""What the bot writes on GitHub: the draft PR's title and body, and its issue comments.

Everything written carries a hidden HTML marker naming the job (and, for the PR, the
run), so a retried job can find what an earlier attempt already posted, and the
PR-closed handler can find the run behind a PR even without the queue's records.
GitHub caps bodies at 65,536 characters; long diffs and test lists are cut with the
cut stated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.types import Verification
from bot.runner import ProbeSummary, RunOutcome

BODY_LIMIT = 60_000
DIFF_LIMIT = 20_000
TEST_ROWS = 30

_RUN_MARKER = re.compile(
    r"<!--\s*engram:run=([A-Za-z0-9._-]+)\s+job=(\d+)\s+commit=([0-9a-f]{40})\s*-->"
)


@dataclass(frozen=True)
class RunMarker:
    run_id: str
    job_id: int
    commit: str


def run_marker(run_id: str, job_id: int, commit: str) -> str:
    return f"<!-- engram:run={run_id} job={job_id} commit={commit} -->"


def comment_marker(job_id: int) -> str:
    return f"<!-- engram:job={job_id} -->"


def parse_run_marker(body: str | None) -> RunMarker | None:
    match = _RUN_MARKER.search(body or "")
    return RunMarker(match.group(1), int(match.group(2)), match.group(3)) if match else None


@dataclass(frozen=True)
class FileStat:
    path: str
    added: int
    removed: int


def diff_stats(diff: str) -> list[FileStat]:
    stats: list[FileStat] = []
    path, added, removed = None, 0, 0
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            if path is not None:
                stats.append(FileStat(path, added, removed))
            path, added, removed = line.split(" b/", 1)[-1], 0, 0
        elif line.startswith("+") and not line.startswith("+++"):
            added += 1
        elif line.startswith("-") and not line.startswith("---"):
            removed += 1
    if path is not None:
        stats.append(FileStat(path, added, removed))
    return stats


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters cut)"


def _fence(text: str, lang: str = "") -> str:
    # A fence longer than any backtick run inside, so the content cannot close it.
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text}\n{ticks}"


def tests_section(verification: Verification | None) -> str:
    if verification is None:
        return "No tests were run on the final tree. Review the change by hand."
    mark = "✅ passed" if verification.passed else "❌ failed"
    lines = [
        f"`{verification.command}` — {mark}"
        + (f" ({verification.summary})" if verification.summary else "")
        + f" in {verification.duration_s:.1f}s"
    ]
    if verification.fail_to_pass_ok is not None:
        lines.append(
            f"- tests that should now pass: {'ok' if verification.fail_to_pass_ok else 'NOT ok'}"
        )
    if verification.pass_to_pass_ok is not None:
        lines.append(
            f"- tests that must keep passing: {'ok' if verification.pass_to_pass_ok else 'NOT ok'}"
        )
    outcomes = sorted(verification.outcomes, key=lambda o: (o.passed, o.test_id))
    if outcomes:
        lines += ["", "| test | result |", "|---|---|"]
        for outcome in outcomes[:TEST_ROWS]:
            lines.append(f"| `{outcome.test_id}` | {'pass' if outcome.passed else 'FAIL'} |")
        if len(outcomes) > TEST_ROWS:
            lines.append(f"| … {len(outcomes) - TEST_ROWS} more | |")
    if not verification.passed and verification.output_tail:
        lines += [
            "",
            "<details><summary>test output (tail)</summary>",
            "",
            _fence(_cut(verification.output_tail, 4000)),
            "",
            "</details>",
        ]
    return "\n".join(lines)


def _score(value: float | None, threshold: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" + (f" (threshold {threshold:.2f})" if threshold is not None else "")


def probes_section(probes: ProbeSummary) -> str:
    if not probes.enabled:
        return "Hallucination probes did not run" + (f": {probes.note}." if probes.note else ".")
    return "\n".join(
        [
            f"Probes scored {probes.steps_scored} step(s); {probes.alarms} alarm(s) "
            f"→ {probes.resampled} step(s) resampled, {probes.rolled_back} rolled back.",
            "",
            "| | highest score |",
            "|---|---|",
            f"| step probe | {_score(probes.max_step_score, probes.step_threshold)} |",
            f"| prefix integrator | {_score(probes.max_prefix_score, probes.prefix_threshold)} |",
        ]
    )


def pull_title(issue_title: str, issue: int) -> str:
    return f"engram: {issue_title.strip()[:200]} (#{issue})"


def pull_body(outcome: RunOutcome, issue: int, job_id: int, requested_by: str) -> str:
    stats = diff_stats(outcome.diff)
    changes = ["| file | + | − |", "|---|---|---|"] + [
        f"| `{s.path}` | {s.added} | {s.removed} |" for s in stats
    ]
    parts = [
        f"Resolves #{issue}. Requested by @{requested_by}; written by engram, reviewed by no one yet.",
        "",
        "### Summary",
        outcome.summary.strip() or "_The agent left no summary._",
        "",
        "### Changes",
        "\n".join(changes),
        "",
        "### Tests",
        tests_section(outcome.verification),
        "",
        "### Probe report",
        probes_section(outcome.probes),
        "",
        "### Run",
        f"exit status `{outcome.exit_status.value}`"
        + (f" ({outcome.exit_reason})" if outcome.exit_reason else "")
        + f" · {outcome.steps} step(s) · run `{outcome.run_id}` · base `{outcome.base_commit[:12]}`",
        "",
        "Merging this PR tells engram the run was right and lets it learn from it; "
        "closing it unmerged tells engram not to.",
        "",
        "<details><summary>Diff</summary>",
        "",
        _fence(_cut(outcome.diff, DIFF_LIMIT), "diff"),
        "",
        "</details>",
        "",
    ]
    # The marker goes after the cut: the PR-closed handler may need it to find the run.
    marker = run_marker(outcome.run_id, job_id, outcome.commit or "0" * 40)
    return _cut("\n".join(parts), BODY_LIMIT) + "\n" + marker


def pr_opened_comment(job_id: int, pull_url: str, outcome: RunOutcome, draft: bool) -> str:
    tests = "no tests run"
    if outcome.verification is not None:
        tests = "tests passed" if outcome.verification.passed else "tests FAILED"
    kind = "a draft pull request" if draft else "a pull request (drafts are not available here)"
    return (
        f"engram opened {kind}: {pull_url}\n\n"
        f"{tests} · exit status `{outcome.exit_status.value}` · {outcome.steps} step(s). "
        "Please review; engram learns from it only if it is merged.\n\n"
        f"{comment_marker(job_id)}"
    )


def no_change_comment(job_id: int, outcome: RunOutcome, command: str) -> str:
    reason = f" ({outcome.exit_reason})" if outcome.exit_reason else ""
    return (
        f"engram worked on this issue but made no change: exit status "
        f"`{outcome.exit_status.value}`{reason} after {outcome.steps} step(s), run "
        f"`{outcome.run_id}`.\n\nAdd detail to the issue and comment `{command}` to try again.\n\n"
        f"{comment_marker(job_id)}"
    )


def failure_comment(job_id: int, error: str, command: str) -> str:
    return (
        f"engram could not finish this job: {error}\n\n"
        f"Comment `{command}` to try again; if it keeps failing, the bot's logs say more.\n\n"
        f"{comment_marker(job_id)}"
    )
