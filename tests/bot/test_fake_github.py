"""The fake GitHub's objects have the shapes GitHub documents: they validate against
githubkit's models, which are generated from GitHub's OpenAPI description."""

from __future__ import annotations

import warnings

import httpx
import pytest

from tests.bot.conftest import REPO

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from githubkit import webhooks
    from githubkit_schemas.latest import models


def _get(github, path: str, **params):
    r = httpx.get(
        f"{github.api_url}{path}", params=params, headers={"Authorization": f"token {github.token}"}
    )
    assert r.status_code == 200, r.text
    return r.json()


def _post(github, path: str, body: dict):
    r = httpx.post(
        f"{github.api_url}{path}", json=body, headers={"Authorization": f"token {github.token}"}
    )
    assert r.status_code == 201, r.text
    return r.json()


def _pull(github) -> int:
    # A branch to open a PR from: pushed straight into the bare repository.
    github.push_human_commit(REPO, "main", "NOTES.md", "notes\n")
    state = github.repos[REPO]
    from tests.bot.fake_github.state import git

    git(["branch", "engram/issue-1-abcdef", "main"], cwd=state.bare)
    return _post(
        github,
        f"/repos/{REPO}/pulls",
        {"title": "t", "head": "engram/issue-1-abcdef", "base": "main", "body": "b", "draft": True},
    )["number"]


def test_rest_objects_validate_against_githubs_schema(github):
    number = github.add_issue(REPO, "bug", "it breaks", labels=["engram"])
    models.FullRepository.model_validate(_get(github, f"/repos/{REPO}"))
    models.Issue.model_validate(_get(github, f"/repos/{REPO}/issues/{number}"))
    comment = _post(github, f"/repos/{REPO}/issues/{number}/comments", {"body": "hi"})
    models.IssueComment.model_validate(comment)
    for c in _get(github, f"/repos/{REPO}/issues/{number}/comments"):
        models.IssueComment.model_validate(c)
    models.RepositoryCollaboratorPermission.model_validate(
        _get(github, f"/repos/{REPO}/collaborators/maintainer/permission")
    )
    pr = _pull(github)
    models.PullRequest.model_validate(_get(github, f"/repos/{REPO}/pulls/{pr}"))
    listed = _get(github, f"/repos/{REPO}/pulls", state="all")
    assert listed
    for p in listed:
        models.PullRequestSimple.model_validate(p)


@pytest.mark.parametrize("kind", ["labeled", "comment", "merged", "closed"])
def test_webhook_payloads_validate_against_githubs_schema(github, kind):
    number = github.add_issue(REPO, "bug", "it breaks")
    if kind == "labeled":
        event, payload = "issues", github.labeled_event(REPO, number, "engram", "maintainer")
    elif kind == "comment":
        event = "issue_comment"
        payload = github.comment_event(REPO, number, "/engram", "maintainer", "OWNER")
    else:
        pr = _pull(github)
        event = "pull_request"
        payload = github.merge_pull(REPO, pr) if kind == "merged" else github.close_pull(REPO, pr)
    parsed = webhooks.parse_obj(event, payload)
    assert parsed.action == payload["action"]


def test_git_over_http_requires_the_token(github, tmp_path):
    import subprocess

    url = f"{github.web_url}/{REPO}.git"
    env = {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}
    denied = subprocess.run(
        ["git", "clone", "-q", url, str(tmp_path / "no")], env=env, capture_output=True
    )
    assert denied.returncode != 0
    assert any(r.status == 401 for r in github.requests)
