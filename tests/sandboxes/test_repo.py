import subprocess

import pytest

from sandboxes.repo import RepoError, normalise_remote, repo_identity


def test_id_is_stable_across_clones(git_repo, tmp_path):
    clone = tmp_path / "elsewhere" / "other-name"
    subprocess.run(["git", "clone", "-q", str(git_repo), str(clone)], check=True)
    subprocess.run(["git", "remote", "remove", "origin"], cwd=clone, check=True)
    assert repo_identity(clone).id == repo_identity(git_repo).id


def test_remote_url_forms_normalise_alike():
    forms = ["git@github.com:Owner/Repo.git", "https://github.com/owner/repo",
             "https://x-access-token:abc@github.com/owner/repo.git"]  # fmt: skip
    assert {normalise_remote(f) for f in forms} == {"github.com/owner/repo"}


def test_remote_changes_the_id(git_repo):
    before = repo_identity(git_repo).id
    subprocess.run(
        ["git", "remote", "add", "origin", "https://github.com/a/b"], cwd=git_repo, check=True
    )
    after = repo_identity(git_repo)
    assert after.id != before and after.id.startswith("b-")


def test_not_a_repo_is_a_clear_error(tmp_path):
    with pytest.raises(RepoError, match="not a git repository"):
        repo_identity(tmp_path)
