"""The bot's clone and push: the token stays in one process's environment; only bot branches
are pushed, and nobody else's commits are overwritten. Real git against the fake GitHub's
smart-HTTP endpoint."""

from __future__ import annotations

import pytest

from bot.remote import PushRefused, RemoteError, RepoClone, auth_env, check_clone_url
from sandboxes.gitcmd import git
from tests.bot.conftest import REPO

BRANCH = "engram/issue-3-abc123"


@pytest.fixture
def clone(github, tmp_path) -> RepoClone:
    c = RepoClone(tmp_path / "clone", f"{github.web_url}/{REPO}.git", lambda: github.token)
    c.sync("main")
    return c


def _commit(clone: RepoClone, text: str) -> str:
    (clone.path / "NEW.md").write_text(text)
    git(["add", "-A"], cwd=clone.path)
    git(["commit", "-qm", text], cwd=clone.path)
    return git(["rev-parse", "HEAD"], cwd=clone.path).strip()


def test_sync_checks_out_the_default_branch_clean(github, clone):
    (clone.path / "junk.txt").write_text("left over")
    base = clone.sync("main")
    assert base == github.branch_sha(REPO, "main")
    assert not (clone.path / "junk.txt").exists()


def test_token_is_never_written_into_the_clone(github, clone):
    for path in clone.path.rglob("*"):
        if path.is_file():
            assert github.token.encode() not in path.read_bytes(), path
    url = git(["config", "--get", "remote.origin.url"], cwd=clone.path).strip()
    assert url == f"{github.web_url}/{REPO}.git"


def test_push_creates_the_branch_and_is_idempotent(github, clone):
    commit = _commit(clone, "one")
    assert clone.push(commit, BRANCH, "main") is True
    assert github.branch_sha(REPO, BRANCH) == commit
    assert clone.push(commit, BRANCH, "main") is False


def test_push_may_replace_only_its_own_earlier_commit(github, clone):
    first = _commit(clone, "one")
    clone.push(first, BRANCH, "main")
    second = _commit(clone, "two")
    with pytest.raises(PushRefused, match="did not push"):
        clone.push(second, BRANCH, "main")
    assert clone.push(second, BRANCH, "main", pushed_before=[first]) is True
    assert github.branch_sha(REPO, BRANCH) == second


def test_push_never_overwrites_someone_elses_commit(github, clone):
    mine = _commit(clone, "mine")
    clone.push(mine, BRANCH, "main")
    theirs = github.push_human_commit(REPO, BRANCH, "HUMAN.md", "theirs\n")
    with pytest.raises(PushRefused):
        clone.push(_commit(clone, "again"), BRANCH, "main", pushed_before=[mine])
    assert github.branch_sha(REPO, BRANCH) == theirs


@pytest.mark.parametrize("branch", ["main", "feature/x", "engram/run-1"])
def test_push_refuses_branches_that_are_not_the_bots(github, clone, branch):
    before = github.branch_sha(REPO, "main")
    with pytest.raises(PushRefused):
        clone.push(_commit(clone, "x"), branch, "main")
    assert github.branch_sha(REPO, "main") == before


def test_push_refuses_the_default_branch_whatever_its_name(clone):
    with pytest.raises(PushRefused, match="default branch"):
        clone.push(_commit(clone, "x"), BRANCH, default_branch=BRANCH)


def test_wrong_token_is_a_permanent_error(github, tmp_path):
    c = RepoClone(tmp_path / "c", f"{github.web_url}/{REPO}.git", lambda: "ghp_wrong_token_value")
    with pytest.raises(RemoteError) as info:
        c.sync("main")
    assert not info.value.transient
    assert "ghp_wrong_token_value" not in str(info.value)


def test_auth_header_is_scoped_to_the_remote_host():
    env = auth_env("https://github.example.com/acme/widgets.git", "tok-123456")
    keys = [env[k] for k in env if k.startswith("GIT_CONFIG_KEY_")]
    assert "http.https://github.example.com/.extraHeader" in keys
    assert "credential.helper" in keys
    assert env["GIT_TRACE"] == "0" and env["GIT_TRACE_CURL"] == "0"
    assert not any("tok-123456" in v for v in env.values())  # only its base64 form, in a header
    local = auth_env("/srv/git/widgets.git", "tok-123456")
    assert local["GIT_CONFIG_COUNT"] == "1"  # no header for a local path


def test_clone_urls_with_credentials_are_refused():
    with pytest.raises(RemoteError):
        check_clone_url("https://user:pw@github.com/acme/widgets.git")
    with pytest.raises(RemoteError):
        check_clone_url("ssh://git@github.com/acme/widgets.git")
