"""The bench store: stable commits on every machine, bug commits that rebuild, task repos
that hold nothing of the fix."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from agent.home import Home
from bench import sdist
from bench.repos import BenchRepoError, BenchRepos, parse_source
from bench.tasks import BenchTask
from sandboxes.gitcmd import git
from tests.conftest import make_git_repo

CORE = "def add(a, b):\n    return a + b\n"


def repos_in(path: Path) -> BenchRepos:
    return BenchRepos(Home(path))


def test_example_materialises_to_the_same_commits_everywhere(tmp_path):
    first = repos_in(tmp_path / "one").open("example:ledger")
    second = repos_in(tmp_path / "two").open("example:ledger")
    assert (first.root_commit, first.clean_commit) == (second.root_commit, second.clean_commit)
    assert first.version == "0.3.0"
    assert "src/ledger/money.py" in first.clean_files()
    assert not any("__pycache__" in f for f in first.clean_files())


def test_the_root_commit_is_empty_and_names_the_source(tmp_path):
    repo = repos_in(tmp_path).open("example:ledger")
    assert git(["ls-tree", repo.root_commit], cwd=repo.path) == ""
    assert "example:ledger" in git(["log", "-1", "--format=%s", repo.root_commit], cwd=repo.path)


def make_task(repo, instance_id: str = "calc__bug-1") -> BenchTask:
    buggy = CORE.replace("a + b", "a - b").encode()
    base = repo.commit_bug({"pkg/core.py": buggy}, instance_id)
    return BenchTask(
        instance_id=instance_id, repo=repo.source.spec, base_commit=base,
        problem_statement="add is wrong", FAIL_TO_PASS=["tests/test_core.py::test_add"],
        patch=repo.fix_patch(base), environment_setup_commit=repo.clean_commit,
    )  # fmt: skip


def test_path_source_bug_commit_and_its_fix(git_repo, tmp_path):
    repo = repos_in(tmp_path / "home").open(str(git_repo))
    assert git(["rev-parse", "main^{tree}"], cwd=repo.path) == git(
        ["rev-parse", "HEAD^{tree}"], cwd=git_repo
    )
    task = make_task(repo)
    assert "-    return a - b\n+    return a + b" in task.patch
    assert git(["rev-parse", f"{task.base_commit}^"], cwd=repo.path).strip() == repo.root_commit


def test_a_bug_commit_rebuilds_to_the_same_id_in_another_home(git_repo, tmp_path):
    task = make_task(repos_in(tmp_path / "a").open(str(git_repo)))
    fresh = repos_in(tmp_path / "b").open(str(git_repo))
    assert fresh.recreate(task) == task.base_commit


def test_a_changed_patch_or_source_is_refused(git_repo, tmp_path):
    task = make_task(repos_in(tmp_path / "a").open(str(git_repo)))
    fresh = repos_in(tmp_path / "b").open(str(git_repo))
    tampered = task.model_copy(update={"patch": task.patch.replace("a - b", "b - a")})
    with pytest.raises(BenchRepoError, match="differs"):
        fresh.recreate(tampered)
    moved = task.model_copy(update={"environment_setup_commit": "0" * 40})
    with pytest.raises(BenchRepoError, match="source changed"):
        fresh.recreate(moved)


def test_task_repo_holds_the_bug_and_nothing_of_the_fix(git_repo, tmp_path):
    repo = repos_in(tmp_path / "home").open(str(git_repo))
    task = make_task(repo)
    checkout = repo.task_repo(task)
    assert git(["rev-parse", "HEAD"], cwd=checkout).strip() == task.base_commit
    assert git(["rev-list", "--all", "--count"], cwd=checkout).strip() == "2"
    assert "a - b" in (checkout / "pkg/core.py").read_text()
    clean_blob = git(["rev-parse", "main:pkg/core.py"], cwd=repo.path).strip()
    missing = subprocess.run(["git", "cat-file", "-e", clean_blob], cwd=checkout)
    assert missing.returncode != 0
    assert git(["status", "--porcelain"], cwd=checkout) == ""
    assert repo.task_repo(task) == checkout  # reused


def test_a_new_example_version_rebuilds_the_store(tmp_path, monkeypatch):
    examples = tmp_path / "examples"
    make_git_repo(examples / "tiny", {"pyproject.toml": "[project]\nname='tiny'\n",
                                      "tiny.py": CORE})  # fmt: skip
    monkeypatch.setattr("agent.examples.examples_dir", lambda: examples)
    repos = repos_in(tmp_path / "home")
    first = repos.open("example:tiny")
    (examples / "tiny" / "tiny.py").write_text(CORE + "\nX = 1\n")
    second = repos.open("example:tiny")
    assert first.clean_commit != second.clean_commit
    assert ".git" not in "".join(second.clean_files())


def make_sdist(folder: Path, name: str = "tinypkg", version: str = "0.1") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{name}-{version}.tar.gz"
    files = {f"{name}-{version}/{name}/__init__.py": CORE.encode(),
             f"{name}-{version}/tests/test_it.py": b"def test_x():\n    pass\n",
             f"{name}-{version}/run.sh": b"#!/bin/sh\necho hi\n"}  # fmt: skip
    with tarfile.open(archive, "w:gz") as tf:
        for member, data in files.items():
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 1_700_000_000
            info.mode = 0o755 if member.endswith(".sh") else 0o644
            tf.addfile(info, io.BytesIO(data))
    return archive


def test_sdist_source_is_deterministic_and_keeps_modes(tmp_path):
    stores = []
    for home in ("a", "b"):
        make_sdist(tmp_path / home / "bench" / "sdists")
        stores.append(repos_in(tmp_path / home).open("pypi:tinypkg==0.1"))
    assert stores[0].clean_commit == stores[1].clean_commit
    assert stores[0].clean_files() == ["run.sh", "tests/test_it.py", "tinypkg/__init__.py"]
    assert git(["ls-tree", stores[0].clean_commit, "run.sh"], cwd=stores[0].path).startswith(
        "100755"
    )


def test_a_pinned_sdist_with_another_hash_is_refused(tmp_path, monkeypatch):
    make_sdist(tmp_path / "bench" / "sdists")
    monkeypatch.setitem(sdist.PINNED, "tinypkg==0.1", "0" * 64)
    with pytest.raises(sdist.SdistError, match="expected"):
        repos_in(tmp_path).open("pypi:tinypkg==0.1")


def test_parse_source():
    assert parse_source("example:ledger").kind == "example"
    pypi = parse_source("Toolz==1.1.0")
    assert (pypi.kind, pypi.spec, pypi.slug) == ("pypi", "pypi:toolz==1.1.0", "pypi-toolz-1.1.0")
    with pytest.raises(sdist.SdistError, match="exact version"):
        parse_source("pypi:toolz>=1")
    with pytest.raises(BenchRepoError, match="neither"):
        parse_source("/nonexistent/place")


def test_task_checkout_is_what_a_runner_starts_from(git_repo, tmp_path):
    from bench.repos import task_checkout

    home = Home(tmp_path / "home")
    task = make_task(repos_in(tmp_path / "home").open(str(git_repo)))
    checkout = task_checkout(task, home)
    assert git(["rev-parse", "HEAD"], cwd=checkout).strip() == task.base_commit
