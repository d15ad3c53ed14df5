"""Per-repo images, built for real: host-side wheel download, offline install, docker commit."""

from __future__ import annotations

import contextlib
import subprocess
import time
from pathlib import Path

import pytest

from sandboxes.container import DockerSandbox
from sandboxes.factory import open_sandbox
from sandboxes.repo import repo_identity
from sandboxes.repo_image import (
    LABEL_REPO,
    RepoImageError,
    ensure_repo_image,
    plan_repo_image,
)
from sandboxes.settings import SandboxSettings
from sandboxes.workspace import Workspace
from tests.conftest import make_git_repo

pytestmark = [pytest.mark.docker, pytest.mark.slow]

BASE = SandboxSettings().image
PACKAGE_PYPROJECT = """
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "tally"
version = "0.1.0"
dependencies = []

[project.scripts]
tally = "tally.cli:main"

[tool.setuptools.packages.find]
where = ["src"]
"""


def remove_repo_images(repo: Path) -> None:
    import docker

    client = docker.from_env()
    try:
        label = f"{LABEL_REPO}={repo_identity(repo).id}"
        for image in client.images.list(filters={"label": label}):
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image.id, force=True)
    finally:
        client.close()


def commit(repo: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (repo / rel).write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "deps"],
                   cwd=repo, check=True)  # fmt: skip


def run_in(image: str, repo: Path, tmp: Path, cmd: str) -> str:
    ws = Workspace.create(
        repo, tmp / f"ws-{time.monotonic_ns()}", tmp / f"snap-{time.monotonic_ns()}.git", "t"
    )
    with DockerSandbox(ws, SandboxSettings(), image=image) as box:
        result = box.execute(cmd)
    return result.output.strip()


@pytest.fixture(scope="module")
def six_repo(sandbox_image, tmp_path_factory):
    """A repository needing six 1.16.0 (not in the base image), and its image."""
    root = tmp_path_factory.mktemp("six")
    repo = make_git_repo(
        root / "repo", {"requirements.txt": "six==1.16.0\n", "app.py": "import six\n"}
    )
    remove_repo_images(repo)  # identical fixtures give identical repo ids across runs
    image = ensure_repo_image(repo, BASE, root / "images", report=lambda m: None)
    yield repo, root, image
    remove_repo_images(repo)


def test_requirements_are_installed_and_import_without_network(six_repo, tmp_path):
    repo, _, image = six_repo
    assert image.status == "built"
    out = run_in(
        image.tag,
        repo,
        tmp_path,
        "ls /sys/class/net; python3 -c 'import six; print(six.__version__)'",
    )
    assert out.split() == ["lo", "1.16.0"]


def test_the_base_image_does_not_have_the_package(six_repo, tmp_path):
    # The control for the test above: the import works because of the repo image.
    repo, _, _ = six_repo
    assert "ModuleNotFoundError" in run_in(BASE, repo, tmp_path, "python3 -c 'import six'")


def test_unchanged_repo_reuses_its_image(six_repo):
    repo, root, image = six_repo
    again = ensure_repo_image(repo, BASE, root / "images", report=lambda m: None)
    assert (again.status, again.tag) == ("cached", image.tag) and again.seconds < 3


def test_run_containers_of_a_repo_image_stay_read_only(six_repo, tmp_path):
    repo, _, image = six_repo
    out = run_in(
        image.tag,
        repo,
        tmp_path,
        "touch /opt/engram-venv/x 2>&1; pip install attrs -q 2>&1 | tail -1",
    )
    assert "Read-only file system" in out and "Successfully installed" not in out


def test_open_sandbox_picks_the_repo_image(six_repo, tmp_path):
    repo, root, image = six_repo
    ws = Workspace.create(repo, tmp_path / "ws", tmp_path / "snap.git", "pick")
    with open_sandbox(ws, SandboxSettings(kind="docker"), images_dir=root / "images") as box:
        assert box.image == image.tag


def test_changed_requirements_build_a_new_image(sandbox_image, tmp_path):
    repo = make_git_repo(tmp_path / "repo", {"requirements.txt": "six==1.16.0\n", "changes.py": ""})
    remove_repo_images(repo)
    try:
        first = ensure_repo_image(repo, BASE, tmp_path / "images", report=lambda m: None)
        commit(repo, {"requirements.txt": "six==1.17.0\n"})
        second = ensure_repo_image(repo, BASE, tmp_path / "images", report=lambda m: None)
        assert second.status == "built" and second.tag != first.tag
        out = run_in(second.tag, repo, tmp_path, "python3 -c 'import six; print(six.__version__)'")
        assert out == "1.17.0"
    finally:
        remove_repo_images(repo)


def test_repo_without_dependencies_uses_the_base_image(sandbox_image, git_repo, tmp_path):
    image = ensure_repo_image(git_repo, BASE, tmp_path / "images", report=lambda m: None)
    assert (image.status, image.tag) == ("base", BASE)


def test_unresolvable_requirement_is_named(sandbox_image, tmp_path):
    repo = make_git_repo(
        tmp_path / "repo", {"requirements.txt": "six\nengram-no-such-package-q7==1.0\n"}
    )
    with pytest.raises(
        RepoImageError, match=r"engram-no-such-package-q7==1\.0.*requirements\.txt:2"
    ):
        ensure_repo_image(repo, BASE, tmp_path / "images", report=lambda m: None)


def test_a_package_is_installed_editable_from_the_workspace(sandbox_image, tmp_path):
    repo = make_git_repo(
        tmp_path / "repo",
        {"pyproject.toml": PACKAGE_PYPROJECT, "src/tally/__init__.py": "VALUE = 1\n",
         "src/tally/cli.py": "def main():\n    import tally\n    print('tally', tally.VALUE)\n"},
    )  # fmt: skip
    remove_repo_images(repo)
    try:
        image = ensure_repo_image(repo, BASE, tmp_path / "images", report=lambda m: None)
        # Imports come from /workspace, so an edit made in the run is what runs.
        out = run_in(
            image.tag, repo, tmp_path, "echo 'VALUE = 2' >> src/tally/__init__.py; cd /tmp && tally"
        )
        assert out == "tally 2"
    finally:
        remove_repo_images(repo)


def test_plan_names_the_image_without_building(sandbox_image, tmp_path):
    repo = make_git_repo(tmp_path / "repo", {"requirements.txt": "six\n", "plan.py": ""})
    plan = plan_repo_image(repo, BASE, tmp_path / "images")
    assert plan.tag.startswith(f"engram/repo-{repo_identity(repo).id}:") and plan.digest
