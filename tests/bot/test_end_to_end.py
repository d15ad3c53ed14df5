"""The bot end to end: signed webhook → real webhook app → SQLite queue → worker → a local
fake GitHub (REST) and a real bare git repository behind git's smart HTTP.

The agent is `ScriptedRunner`, a fake runner for unit-testing the bot's logic: it makes
a real commit through the real workspace code, but its edits, test results and probe
readings are scripted, not produced by a model.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from agent.types import ProbeReading, Trajectory
from bot.fake_runner import RunScript
from bot.queue import JobState
from bot.worker import Worker
from tests.bot.conftest import FIXED, REPO, Deliverer, passing_verification


def _git_show(github, ref: str, path: str) -> str:
    bare = github.repos[REPO].bare
    return subprocess.run(
        ["git", "show", f"{ref}:{path}"], cwd=bare, capture_output=True, text=True, check=True
    ).stdout


def _solve_via_label(github, ctx, deliver):
    number = github.add_issue(REPO, "add() subtracts", "add(1, 2) returns -1", labels=[])
    payload = github.labeled_event(REPO, number, "engram", "maintainer")
    response = deliver("issues", payload)
    assert response.status_code == 202, response.text
    job = Worker(ctx, lease_s=30).run_once()
    assert job is not None
    return number, job


def test_labelled_issue_becomes_branch_draft_pr_and_comment(github, ctx, deliver):
    number, job = _solve_via_label(github, ctx, deliver)
    assert job.state == JobState.DONE, job.error

    pulls = list(github.repos[REPO].pulls.values())
    assert len(pulls) == 1
    pull = pulls[0]
    assert pull.draft and pull.base_ref == "main"
    assert pull.head_ref.startswith(f"engram/issue-{number}-")
    # The branch really is on the remote, with the fix, and main is untouched.
    assert _git_show(github, pull.head_ref, "widgets/core.py") == FIXED
    assert "a - b" in _git_show(github, "main", "widgets/core.py")
    # The body reports the summary, the tests and their results, and the probes.
    assert "`add` subtracted" in pull.body
    assert "python -m pytest -q" in pull.body and "passed" in pull.body
    assert "tests/test_core.py::test_add" in pull.body
    assert "### Probe report" in pull.body
    assert f"Resolves #{number}" in pull.body

    comments = github.repos[REPO].issues[number].comments
    assert len(comments) == 1
    assert pull_url(github, pull.number) in comments[0]["body"]
    assert "engram" not in github.repos[REPO].issues[number].labels  # consumed: re-add to rerun
    assert job.result["pull_number"] == pull.number


def _trajectory(path) -> Trajectory:
    return Trajectory.model_validate_json(Path(path).read_text())


def pull_url(github, number: int) -> str:
    return f"{github.web_url}/{REPO}/pull/{number}"


def test_git_used_the_token_only_in_a_header(github, ctx, deliver, isolated_home):
    _solve_via_label(github, ctx, deliver)
    pushes = github.calls("POST", r"/git-receive-pack$")
    assert pushes and all(r.authorization.startswith("Basic ") for r in pushes)
    # Nothing the bot left on disk (clone config, queue, trajectories) holds the token.
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert github.token.encode() not in path.read_bytes(), path


def test_merged_pr_marks_the_trajectory_verified(github, ctx, deliver):
    _, job = _solve_via_label(github, ctx, deliver)
    path = job.result["trajectory_path"]
    before = _trajectory(path)
    assert before.verified_by == "tests" and not before.eligible_for_learning

    response = deliver("pull_request", github.merge_pull(REPO, job.result["pull_number"]))
    assert response.status_code == 202
    merged_job = Worker(ctx).run_once()
    assert merged_job.state == JobState.DONE, merged_job.error
    after = _trajectory(path)
    assert after.verified_by == "human-merge"
    assert after.eligible_for_learning


def test_closed_unmerged_pr_is_not_eligible(github, ctx, deliver):
    _, job = _solve_via_label(github, ctx, deliver)
    deliver("pull_request", github.close_pull(REPO, job.result["pull_number"]))
    closed_job = Worker(ctx).run_once()
    assert closed_job.result["merged"] is False
    after = _trajectory(job.result["trajectory_path"])
    assert not after.eligible_for_learning
    assert after.verified_by == "tests"


def test_pr_merged_after_human_commits_is_not_learned_from(github, ctx, deliver):
    _, job = _solve_via_label(github, ctx, deliver)
    branch = job.result["branch"]
    github.push_human_commit(REPO, branch, "widgets/extra.py", "X = 1\n")
    deliver("pull_request", github.merge_pull(REPO, job.result["pull_number"]))
    merged_job = Worker(ctx).run_once()
    assert merged_job.result == {**merged_job.result, "merged": True, "head_is_bot_commit": False}
    after = _trajectory(job.result["trajectory_path"])
    assert not after.eligible_for_learning


def test_auto_learn_hands_the_merged_trajectory_to_the_hook(github, make_ctx, script):
    ctx = make_ctx(script, auto_learn=True)
    learned: list[Trajectory] = []
    ctx.learn_hook = lambda trajectory, home: learned.append(trajectory)
    deliver = Deliverer(ctx)
    _, job = _solve_via_label(github, ctx, deliver)
    deliver("pull_request", github.merge_pull(REPO, job.result["pull_number"]))
    Worker(ctx).run_once()
    assert [t.run_id for t in learned] == [job.result["run_id"]]
    assert learned[0].eligible_for_learning


def test_untrusted_comment_does_nothing(github, ctx, deliver):
    number = github.add_issue(REPO, "bug", "details")
    github.requests.clear()
    payload = github.comment_event(REPO, number, "/engram please", "drive-by", "NONE")
    response = deliver("issue_comment", payload)
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert ctx.queue.counts()["queued"] == 0
    assert Worker(ctx).run_once() is None
    assert github.requests == []  # not a single call to GitHub
    assert github.repos[REPO].pulls == {}


def test_trusted_comment_command_opens_a_pr(github, ctx, deliver):
    number = github.add_issue(REPO, "bug", "details")
    payload = github.comment_event(REPO, number, "/engram keep it small", "maintainer", "MEMBER")
    assert deliver("issue_comment", payload).status_code == 202
    job = Worker(ctx).run_once()
    assert job.state == JobState.DONE
    runner = ctx.runner()
    assert len(runner.runs) == 1
    trajectory = _trajectory(job.result["trajectory_path"])
    assert "keep it small" in trajectory.task.problem_statement
    assert trajectory.task.source == "bot"


def test_label_from_someone_without_write_access_is_dropped(github, ctx, deliver):
    # Issue templates can apply labels for anyone: the worker asks GitHub who the sender is.
    number = github.add_issue(REPO, "bug", "details", author="outsider")
    payload = github.labeled_event(REPO, number, "engram", "outsider")
    assert deliver("issues", payload).status_code == 202
    job = Worker(ctx).run_once()
    assert job.state == JobState.SKIPPED
    assert "read" in job.result["reason"]
    assert github.repos[REPO].pulls == {}
    assert github.repos[REPO].issues[number].comments == []
    assert ctx.runner().runs == []


def test_second_trigger_while_active_is_coalesced(github, ctx, deliver):
    number = github.add_issue(REPO, "bug", "details")
    first = deliver("issues", github.labeled_event(REPO, number, "engram", "maintainer"))
    second = deliver(
        "issue_comment", github.comment_event(REPO, number, "/engram", "maintainer", "OWNER")
    )
    assert first.json()["status"] == "queued"
    assert second.status_code == 202 and second.json()["status"] == "coalesced"
    assert second.json()["job"] == first.json()["job"]
    Worker(ctx).drain()
    assert len(github.repos[REPO].pulls) == 1


def test_rerun_of_a_finished_job_finds_its_pr_and_comment(github, ctx, deliver):
    """Idempotence without the saved progress: the PR is found by its branch, the comment
    by its marker (as after a crash that lost the progress of the last steps)."""
    number, job = _solve_via_label(github, ctx, deliver)
    saved = dict(job.progress)
    with ctx.queue._tx() as db:  # put the job back as if the last steps never got saved
        progress = {k: saved[k] for k in ("branch", "outcome")}
        db.execute(
            "UPDATE jobs SET state='queued', progress=?, attempts=0 WHERE id=?",
            (json.dumps(progress), job.id),
        )
    again = Worker(ctx).run_once()
    assert again.state == JobState.DONE
    assert len(github.repos[REPO].pulls) == 1
    assert len(github.repos[REPO].issues[number].comments) == 1
    assert len(ctx.runner().runs) == 1  # the finished run was reused, not repeated


def test_transient_github_error_is_retried(github, ctx, deliver):
    github.fail_next("POST", r"/issues/\d+/comments$", 429)
    number = github.add_issue(REPO, "bug", "details")
    deliver("issues", github.labeled_event(REPO, number, "engram", "maintainer"))
    worker = Worker(ctx, backoff_base_s=0.01)
    first = worker.run_once()
    assert first.state == JobState.QUEUED and "429" in first.error
    jobs = worker.drain(deadline_s=30)
    assert jobs[-1].state == JobState.DONE
    assert len(github.repos[REPO].pulls) == 1
    assert len(github.repos[REPO].issues[number].comments) == 1


def test_run_without_changes_comments_and_opens_nothing(github, make_ctx):
    ctx = make_ctx(RunScript(edits={}, summary="nothing to do"))
    deliver = Deliverer(ctx)
    number = github.add_issue(REPO, "question", "how does add work?")
    deliver("issues", github.labeled_event(REPO, number, "engram", "maintainer"))
    job = Worker(ctx).run_once()
    assert job.state == JobState.DONE and job.result["pull_number"] is None
    assert github.repos[REPO].pulls == {}
    [comment] = github.repos[REPO].issues[number].comments
    assert "made no change" in comment["body"]


def test_repository_without_drafts_gets_a_normal_pr(github, ctx, deliver):
    github.repos[REPO].drafts_supported = False
    _, job = _solve_via_label(github, ctx, deliver)
    assert job.state == JobState.DONE
    [pull] = github.repos[REPO].pulls.values()
    assert not pull.draft and job.result["draft"] is False


def test_runner_failure_is_reported_on_the_issue_without_secrets(github, make_ctx):
    ctx = make_ctx(RunScript(fail_with=f"model exploded (token {'x' * 3})"))
    leaky = ctx.runner()
    leaky.script = RunScript(fail_with=f"could not use {github.token} at {ctx.home.root}/runs")
    deliver = Deliverer(ctx)
    number = github.add_issue(REPO, "bug", "details")
    deliver("issues", github.labeled_event(REPO, number, "engram", "maintainer"))
    job = Worker(ctx).run_once()
    assert job.state == JobState.FAILED
    [comment] = github.repos[REPO].issues[number].comments
    assert "could not finish" in comment["body"]
    assert github.token not in comment["body"] and "***" in comment["body"]
    assert str(ctx.home.root) not in comment["body"]
    assert "engram" not in github.repos[REPO].issues[number].labels  # re-label to retry


def test_probe_readings_reach_the_pr_body(github, make_ctx):
    readings = [
        ProbeReading(
            step_score=0.12,
            prefix_score=0.2,
            step_threshold=0.7,
            prefix_threshold=0.6,
            probe_id="p1",
        )
    ]
    ctx = make_ctx(
        RunScript(
            edits={"widgets/core.py": FIXED}, readings=readings, verification=passing_verification()
        )
    )
    _solve_via_label(github, ctx, Deliverer(ctx))
    [pull] = github.repos[REPO].pulls.values()
    assert "0.12 (threshold 0.70)" in pull.body
    assert "Probes scored 1 step(s)" in pull.body


def test_pr_opened_from_the_branch_meanwhile_is_adopted(github, ctx, deliver):
    """Someone opens a PR from the bot's branch between its push and its own PR request:
    GitHub answers 422, and the bot links the existing PR instead of failing."""
    state = github.repos[REPO]

    def someone_opens_a_pr() -> None:
        for ref in [p.name for p in (state.bare / "refs" / "heads" / "engram").rglob("*")]:
            github.open_pull(REPO, f"engram/{ref}", "maintainer")
        github.after_push.clear()

    github.after_push.append(someone_opens_a_pr)
    number, job = _solve_via_label(github, ctx, deliver)
    assert job.state == JobState.DONE, job.error
    [pull] = state.pulls.values()
    assert job.result["pull_number"] == pull.number and pull.author == "maintainer"
    assert [r.status for r in github.calls("POST", r"/pulls$")] == [422]
    assert pull_url(github, pull.number) in state.issues[number].comments[0]["body"]
