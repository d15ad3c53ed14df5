"""JSON objects shaped as GitHub's REST API and webhooks document them.

Complete objects (every field GitHub's OpenAPI description marks required), so that
`tests/bot/test_fake_github.py` can check them against githubkit's generated models
of that description; the bot itself reads only a few fields.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

_ids = itertools.count(1000)

NOW = "2025-01-01T00:00:00Z"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, ident: int) -> str:
    return f"{kind}_{ident:012d}"


def user(api: str, web: str, login: str, *, type_: str = "User", ident: int | None = None) -> dict:
    ident = ident if ident is not None else abs(hash(login)) % 10_000_000
    u = f"{api}/users/{login}"
    return {
        "login": login,
        "id": ident,
        "node_id": node_id("U", ident),
        "avatar_url": f"{web}/avatars/{login}",
        "gravatar_id": "",
        "url": u,
        "html_url": f"{web}/{login}",
        "followers_url": f"{u}/followers",
        "following_url": f"{u}/following{{/other_user}}",
        "gists_url": f"{u}/gists{{/gist_id}}",
        "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{u}/subscriptions",
        "organizations_url": f"{u}/orgs",
        "repos_url": f"{u}/repos",
        "events_url": f"{u}/events{{/privacy}}",
        "received_events_url": f"{u}/received_events",
        "type": type_,
        "user_view_type": "public",
        "site_admin": False,
    }


def label(api: str, full_name: str, name: str, ident: int) -> dict:
    return {
        "id": ident,
        "node_id": node_id("LA", ident),
        "url": f"{api}/repos/{full_name}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
        "archived_at": None,
        "archived_by": None,
    }


def repository(
    api: str,
    web: str,
    owner: dict,
    full_name: str,
    ident: int,
    default_branch: str,
    *,
    full: bool = False,
) -> dict:
    name = full_name.split("/", 1)[1]
    u = f"{api}/repos/{full_name}"
    repo: dict[str, Any] = {
        "id": ident,
        "node_id": node_id("R", ident),
        "name": name,
        "full_name": full_name,
        "license": None,
        "forks": 0,
        "owner": owner,
        "private": False,
        "html_url": f"{web}/{full_name}",
        "description": "a test repository",
        "fork": False,
        "url": u,
        "archive_url": f"{u}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{u}/assignees{{/user}}",
        "blobs_url": f"{u}/git/blobs{{/sha}}",
        "branches_url": f"{u}/branches{{/branch}}",
        "collaborators_url": f"{u}/collaborators{{/collaborator}}",
        "comments_url": f"{u}/comments{{/number}}",
        "commits_url": f"{u}/commits{{/sha}}",
        "compare_url": f"{u}/compare/{{base}}...{{head}}",
        "contents_url": f"{u}/contents/{{+path}}",
        "contributors_url": f"{u}/contributors",
        "deployments_url": f"{u}/deployments",
        "downloads_url": f"{u}/downloads",
        "events_url": f"{u}/events",
        "forks_url": f"{u}/forks",
        "git_commits_url": f"{u}/git/commits{{/sha}}",
        "git_refs_url": f"{u}/git/refs{{/sha}}",
        "git_tags_url": f"{u}/git/tags{{/sha}}",
        "git_url": f"git://example.invalid/{full_name}.git",
        "issue_comment_url": f"{u}/issues/comments{{/number}}",
        "issue_events_url": f"{u}/issues/events{{/number}}",
        "issues_url": f"{u}/issues{{/number}}",
        "keys_url": f"{u}/keys{{/key_id}}",
        "labels_url": f"{u}/labels{{/name}}",
        "languages_url": f"{u}/languages",
        "merges_url": f"{u}/merges",
        "milestones_url": f"{u}/milestones{{/number}}",
        "notifications_url": f"{u}/notifications{{?since,all,participating}}",
        "pulls_url": f"{u}/pulls{{/number}}",
        "releases_url": f"{u}/releases{{/id}}",
        "ssh_url": f"git@example.invalid:{full_name}.git",
        "stargazers_url": f"{u}/stargazers",
        "statuses_url": f"{u}/statuses/{{sha}}",
        "subscribers_url": f"{u}/subscribers",
        "subscription_url": f"{u}/subscription",
        "tags_url": f"{u}/tags",
        "teams_url": f"{u}/teams",
        "trees_url": f"{u}/git/trees{{/sha}}",
        "clone_url": f"{web}/{full_name}.git",
        "mirror_url": None,
        "hooks_url": f"{u}/hooks",
        "svn_url": f"{web}/{full_name}",
        "homepage": None,
        "language": "Python",
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 10,
        "default_branch": default_branch,
        "open_issues_count": 1,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "pushed_at": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "open_issues": 1,
        "watchers": 0,
    }
    if full:
        repo.update(
            {
                "network_count": 0,
                "subscribers_count": 0,
                "permissions": {
                    "admin": False,
                    "maintain": False,
                    "push": True,
                    "triage": True,
                    "pull": True,
                },
            }
        )
    return repo


def reactions(url: str) -> dict:
    return {
        "url": f"{url}/reactions",
        "total_count": 0,
        "+1": 0,
        "-1": 0,
        "laugh": 0,
        "confused": 0,
        "heart": 0,
        "hooray": 0,
        "eyes": 0,
        "rocket": 0,
    }


def issue(
    api: str,
    web: str,
    full_name: str,
    *,
    number: int,
    ident: int,
    title: str,
    body: str | None,
    author: dict,
    association: str,
    labels: list[dict],
    state: str,
    comments: int,
) -> dict:
    u = f"{api}/repos/{full_name}/issues/{number}"
    return {
        "id": ident,
        "node_id": node_id("I", ident),
        "url": u,
        "repository_url": f"{api}/repos/{full_name}",
        "labels_url": f"{u}/labels{{/name}}",
        "comments_url": f"{u}/comments",
        "events_url": f"{u}/events",
        "html_url": f"{web}/{full_name}/issues/{number}",
        "number": number,
        "state": state,
        "state_reason": None,
        "title": title,
        "body": body,
        "user": author,
        "labels": labels,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": comments,
        "closed_at": None,
        "created_at": NOW,
        "updated_at": now(),
        "closed_by": None,
        "author_association": association,
        "reactions": reactions(u),
        "timeline_url": f"{u}/timeline",
    }


def comment(
    api: str,
    web: str,
    full_name: str,
    *,
    issue_number: int,
    ident: int,
    body: str,
    author: dict,
    association: str,
) -> dict:
    u = f"{api}/repos/{full_name}/issues/comments/{ident}"
    stamp = now()
    return {
        "id": ident,
        "node_id": node_id("IC", ident),
        "url": u,
        "html_url": f"{web}/{full_name}/issues/{issue_number}#issuecomment-{ident}",
        "body": body,
        "user": author,
        "created_at": stamp,
        "updated_at": stamp,
        "issue_url": f"{api}/repos/{full_name}/issues/{issue_number}",
        "author_association": association,
        "performed_via_github_app": None,
        "reactions": reactions(u),
    }


def pull_request(
    api: str,
    web: str,
    repo: dict,
    *,
    number: int,
    ident: int,
    title: str,
    body: str | None,
    author: dict,
    head_ref: str,
    head_sha: str,
    base_ref: str,
    base_sha: str,
    draft: bool,
    state: str,
    merged: bool,
    merged_by: dict | None,
    merge_commit_sha: str | None,
    full: bool = True,
) -> dict:
    full_name = repo["full_name"]
    u = f"{api}/repos/{full_name}/pulls/{number}"
    issue_u = f"{api}/repos/{full_name}/issues/{number}"
    html = f"{web}/{full_name}/pull/{number}"
    owner_login = repo["owner"]["login"]
    stamp = now()
    closed = state == "closed"
    pr: dict[str, Any] = {
        "url": u,
        "id": ident,
        "node_id": node_id("PR", ident),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue_u,
        "commits_url": f"{u}/commits",
        "review_comments_url": f"{u}/comments",
        "review_comment_url": f"{api}/repos/{full_name}/pulls/comments{{/number}}",
        "comments_url": f"{issue_u}/comments",
        "statuses_url": f"{api}/repos/{full_name}/statuses/{head_sha}",
        "number": number,
        "state": state,
        "locked": False,
        "title": title,
        "user": author,
        "body": body,
        "labels": [],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": NOW,
        "updated_at": stamp,
        "closed_at": stamp if closed else None,
        "merged_at": stamp if merged else None,
        "merge_commit_sha": merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": {
            "label": f"{owner_login}:{head_ref}",
            "ref": head_ref,
            "sha": head_sha,
            "user": repo["owner"],
            "repo": repo,
        },
        "base": {
            "label": f"{owner_login}:{base_ref}",
            "ref": base_ref,
            "sha": base_sha,
            "user": repo["owner"],
            "repo": repo,
        },
        "_links": {
            k: {"href": v}
            for k, v in {
                "self": u,
                "html": html,
                "issue": issue_u,
                "comments": f"{issue_u}/comments",
                "review_comments": f"{u}/comments",
                "review_comment": f"{api}/repos/{full_name}/pulls/comments{{/number}}",
                "commits": f"{u}/commits",
                "statuses": f"{api}/repos/{full_name}/statuses/{head_sha}",
            }.items()
        },
        "author_association": "NONE",
        "auto_merge": None,
        "draft": draft,
    }
    if full:
        pr.update(
            {
                "merged": merged,
                "mergeable": None if closed else True,
                "rebaseable": None,
                "mergeable_state": "unknown" if closed else "clean",
                "merged_by": merged_by,
                "comments": 0,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 1,
                "deletions": 0,
                "changed_files": 1,
            }
        )
    return pr


def installation(ident: int) -> dict:
    return {"id": ident, "node_id": node_id("MDIz", ident)}
