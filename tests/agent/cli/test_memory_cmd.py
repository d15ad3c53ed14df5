"""`engram memory …` and `engram learn` as real processes on a real git repo and store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from agent.home import Home
from memory.adapter_store import FileAdapterStore
from tests.conftest import REPO_ROOT, make_git_repo
from tests.memory.conftest import make_manifest, write_adapter_dir
from tests.memory.runs import for_repo, stored_runs, write_runs

MAIN = "from agent.cli.main import main; main()"


@pytest.fixture
def world(tmp_path):
    from sandboxes.repo import repo_identity

    repo = make_git_repo(tmp_path / "repo", {"pkg/mem.py": "X = 1\n"})
    repo_id = repo_identity(repo).id
    home = Home(tmp_path / "home")
    store = FileAdapterStore(home.adapters)
    for seed, edits in ((0, ["e1", "e2"]), (1, ["e2", "e3"])):
        folder = write_adapter_dir(tmp_path / f"adapter{seed}", seed=seed)
        manifest = make_manifest(repo_id, edits, metrics={"repo_action_loss": 0.5 + seed})
        version = store.propose(repo_id, folder, manifest).version
        store.accept(repo_id, version)
    return repo, repo_id, home, store


def engram(home: Home, *args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "ENGRAM_HOME": str(home.root), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", MAIN, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_list_shows_versions_and_which_is_current(world):
    repo, repo_id, home, _ = world
    done = engram(home, "memory", "list", "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    assert repo_id in done.stdout and "v1" in done.stdout and "v2" in done.stdout
    assert "current" in done.stdout and "accepted" in done.stdout
    as_json = json.loads(engram(home, "memory", "list", "--repo", str(repo), "--json").stdout)
    assert [v["status"] for v in as_json] == ["accepted", "current"]


def test_show_defaults_to_current(world):
    repo, repo_id, home, _ = world
    shown = json.loads(engram(home, "memory", "show", "--repo", str(repo)).stdout)
    assert shown["version"] == 2 and shown["repo_id"] == repo_id
    assert json.loads(engram(home, "memory", "show", "1", "--repo", str(repo)).stdout)[
        "version"] == 1  # fmt: skip


def test_diff_names_the_changed_self_edits(world):
    repo, _, home, _ = world
    done = engram(home, "memory", "diff", "1", "2", "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    assert "e1" in done.stdout and "e3" in done.stdout


def test_rollback_to_a_version_and_to_the_base(world):
    repo, repo_id, home, store = world
    done = engram(home, "memory", "rollback", "1", "--repo", str(repo))
    assert done.returncode == 0 and "current is now v1" in done.stdout
    assert store.current(repo_id).version == 1
    done = engram(home, "memory", "rollback", "--base", "--repo", str(repo))
    assert "base model" in done.stdout and store.current(repo_id) is None
    bad = engram(home, "memory", "rollback", "--repo", str(repo))
    assert bad.returncode == 2 and "--base" in bad.stderr


def test_export_writes_peft_folder_and_manifest(world, tmp_path):
    repo, repo_id, home, _ = world
    target = tmp_path / "out" / "v1.tar.gz"
    done = engram(home, "memory", "export", "1", "--repo", str(repo), "-o", str(target))
    assert done.returncode == 0, done.stderr
    with tarfile.open(target) as tar:
        names = sorted(Path(n).name for n in tar.getnames())
        manifest = json.load(tar.extractfile(f"{repo_id}-v0001/manifest.json"))
    assert names == ["adapter_config.json", "adapter_model.safetensors", "manifest.json"]
    assert manifest["version"] == 1
    assert [p.name for p in target.parent.iterdir()] == ["v1.tar.gz"]  # no temporary left


def test_unknown_version_says_what_to_do(world):
    repo, _, home, _ = world
    done = engram(home, "memory", "show", "9", "--repo", str(repo))
    assert done.returncode == 2 and "engram memory list" in done.stderr


def test_learn_outside_a_git_repo_is_a_clear_error(tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    done = engram(Home(tmp_path / "home"), "learn", "--repo", str(plain))
    assert done.returncode == 2 and "not a git repository" in done.stderr


def test_learn_with_nothing_to_learn(world):
    repo, _, home, _ = world
    done = engram(home, "learn", "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    assert "nothing new to learn" in done.stdout and "no unused verified runs" in done.stdout


def test_learn_auto_says_how_many_runs_wait(world):
    repo, repo_id, home, _ = world
    write_runs(home.runs, [for_repo(t, repo_id) for t in stored_runs()])
    done = engram(home, "learn", "--repo", str(repo), "--auto", "--every", "3")
    assert done.returncode == 0, done.stderr
    assert "2 verified run(s) waiting, consolidating at 3" in done.stdout


def test_learn_refuses_an_evaluation_size_that_overlaps_replay(world):
    repo, _, home, _ = world
    done = engram(home, "learn", "--repo", str(repo), "--humaneval-n", "7")
    assert done.returncode == 2 and "--humaneval-n" in done.stderr


def test_show_and_export_without_a_current_version_say_to_name_one(tmp_path):
    repo = make_git_repo(tmp_path / "fresh", {"pkg/mem.py": "X = 1\n"})
    home = Home(tmp_path / "empty-home")
    for command in (["show"], ["export", "--out", str(tmp_path / "x.tar.gz")]):
        done = engram(home, "memory", *command, "--repo", str(repo))
        assert done.returncode != 0
        assert "no current adapter; name a version" in done.stdout + done.stderr
    assert not (tmp_path / "x.tar.gz").exists()
