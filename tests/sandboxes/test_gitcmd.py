"""The environment engram's own git commands run with."""

from __future__ import annotations

from sandboxes.gitcmd import git


def test_caller_config_entries_are_kept_and_hardening_is_appended(git_repo, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")  # inherited: the user's, dropped
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "inherited")
    env = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "x.y", "GIT_CONFIG_VALUE_0": "caller"}
    assert git(["config", "--get", "x.y"], cwd=git_repo, env=env).strip() == "caller"
    assert git(["config", "--get", "core.fsmonitor"], cwd=git_repo, env=env).strip() == "false"
    assert git(["config", "--get", "user.name"], cwd=git_repo, check=False).strip() != "inherited"


def test_repository_config_cannot_turn_fsmonitor_back_on(git_repo):
    git(["config", "core.fsmonitor", "true"], cwd=git_repo)
    assert git(["config", "--get", "core.fsmonitor"], cwd=git_repo).strip() == "false"
