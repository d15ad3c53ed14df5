"""`engram sandbox exec|image` through the real CLI app (in process), on real git and Docker."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.cli.sandbox_cmd import command_line
from tests.conftest import REPO_ROOT, make_git_repo


def engram(*args: str):
    return CliRunner().invoke(app, list(args))


def test_one_argument_is_a_shell_line_several_are_quoted():
    assert command_line(["echo a | wc -c"]) == "echo a | wc -c"
    assert (
        command_line(["python3", "-c", "print('a b')"]) == "python3 -c 'print('\"'\"'a b'\"'\"')'"
    )


@pytest.mark.docker
def test_exec_prints_the_output_and_exits_with_its_code(sandbox_image, git_repo):
    result = engram(
        "sandbox", "exec", "--repo", str(git_repo), "--", "bash", "-c", "echo hi; exit 3"
    )
    assert (result.exit_code, result.stdout) == (3, "hi\n")
    assert "exit code 3" in result.stderr


@pytest.mark.docker
def test_exec_never_touches_the_checkout(sandbox_image, git_repo, isolated_home):
    before = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git_repo, capture_output=True, text=True
    ).stdout
    result = engram(
        "sandbox", "exec", "--repo", str(git_repo), "--",
        "echo x > new.txt; echo y >> pkg/core.py; git checkout -qb other; git status --short",
    )  # fmt: skip
    assert result.exit_code == 0 and "new.txt" in result.stdout
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=git_repo, capture_output=True, text=True
    )
    branch = subprocess.run(
        ["git", "branch", "--list"], cwd=git_repo, capture_output=True, text=True
    )
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git_repo, capture_output=True, text=True
    )
    assert (status.stdout, branch.stdout.split(), head.stdout) == ("", ["*", "main"], before)
    assert list((isolated_home / "worktrees").iterdir()) == []  # clone and snapshots removed


def test_exec_local_runs_in_a_private_clone(git_repo, isolated_home):
    result = engram("sandbox", "exec", "--repo", str(git_repo), "--local", "--", "pwd; ls pkg")
    lines = result.stdout.split()
    assert result.exit_code == 0 and lines[0].startswith(str(isolated_home / "worktrees"))
    assert lines[1:] == ["__init__.py", "core.py"]
    assert "does not isolate" in result.stderr


@pytest.mark.docker
def test_exec_reports_a_timeout(sandbox_image, git_repo):
    result = engram("sandbox", "exec", "--repo", str(git_repo), "--timeout", "1", "--", "sleep 30")
    assert result.exit_code == 124 and "timed out" in result.stderr


@pytest.mark.docker
def test_image_of_a_repo_without_dependencies_is_the_base(sandbox_image, git_repo):
    result = engram("sandbox", "image", "--repo", str(git_repo))
    assert result.exit_code == 0
    assert f"image     {sandbox_image}" in result.stdout and "status    base" in result.stdout


@pytest.mark.docker
def test_image_no_build_shows_the_plan(sandbox_image, tmp_path):
    repo = make_git_repo(tmp_path / "r", {"requirements.txt": "six==1.16.0\n-e .\n", "x.py": ""})
    result = engram("sandbox", "image", "--repo", str(repo), "--no-build")
    assert result.exit_code == 0, result.output
    assert (
        "status    not built" in result.stdout
        and "six==1.16.0    [requirements.txt:1]" in result.stdout
    )
    assert "skipped: requirements.txt:2: -e ." in result.stdout


def test_help_imports_nothing_heavy():
    # `engram --help` stays fast (< 0.5 s, measured by scripts/measure_setup.py) because it
    # imports none of docker, torch, transformers, peft or the sandbox implementation.
    code = (
        "import sys; sys.argv = ['engram', '--help']; from agent.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in ('docker', 'torch', 'transformers', 'peft', 'sandboxes.container') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert "sandbox" in shown.stdout and shown.stdout.rstrip().endswith("[]"), shown.stderr
