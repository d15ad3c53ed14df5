"""The Sandbox contract (sandboxes/base.py), run against DockerSandbox and LocalSandbox."""

import pytest

from sandboxes.base import PathOutsideWorkspace, Sandbox

pytestmark = pytest.mark.docker


def test_implements_protocol(sandbox):
    assert isinstance(sandbox, Sandbox)


def test_execute_runs_in_workspace_and_reports_exit_code(sandbox):
    result = sandbox.execute("test -f pkg/core.py && echo here; exit 3")
    assert (result.exit_code, result.output.strip(), result.timed_out) == (3, "here", False)


def test_python_and_pytest_are_available(sandbox):
    result = sandbox.execute("python3 -m pytest -q tests")
    assert result.ok, result.output


def test_timeout_kills_and_reports(sandbox):
    result = sandbox.execute("sleep 30", timeout=1)
    assert result.timed_out and result.duration_s < 15


def test_timeout_kills_the_whole_process_group(sandbox):
    sandbox.execute("(sleep 30; echo late > late.txt) & sleep 30", timeout=1)
    sandbox.execute("sleep 0.1")
    assert sandbox.execute("sleep 2; test -e late.txt").exit_code != 0


def test_output_is_capped_with_head_and_tail(sandbox):
    result = sandbox.execute("echo START; seq 1 200000; echo END")
    assert (
        result.truncated
        and result.output.startswith("START")
        and result.output.rstrip().endswith("END")
    )
    assert "bytes cut from the middle" in result.output
    assert len(result.output) < sandbox.settings.output_cap_bytes + 200


def test_binary_output_survives(sandbox):
    result = sandbox.execute("printf 'ok\\xff\\xfe\\x00bin'")
    assert result.exit_code == 0 and result.output.startswith("ok") and "\ufffd" in result.output


def test_read_write_roundtrip(sandbox):
    sandbox.write_file("new/dir/file.txt", b"hello")
    assert sandbox.read_file("new/dir/file.txt") == b"hello"
    assert sandbox.execute("cat new/dir/file.txt").output == "hello"


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", "pkg/../../x"])
def test_paths_outside_the_workspace_are_refused(sandbox, path):
    with pytest.raises(PathOutsideWorkspace):
        sandbox.read_file(path)
    with pytest.raises(PathOutsideWorkspace):
        sandbox.write_file(path, b"x")


def test_symlink_pointing_out_is_refused(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    (sandbox.workspace / "link").symlink_to(secret)
    with pytest.raises(PathOutsideWorkspace):
        sandbox.read_file("link")
    with pytest.raises(PathOutsideWorkspace):
        sandbox.write_file("link", b"overwrite")
    assert secret.read_text() == "host secret"


def test_restore_removes_new_files_and_reverts_edits(sandbox):
    ref = sandbox.snapshot("before")
    sandbox.execute(
        "echo junk > junk.txt; mkdir -p deep/er; touch deep/er/f; echo '# x' >> pkg/core.py; rm tests/test_core.py"
    )
    sandbox.restore(ref)
    listing = sandbox.execute("find . -path ./.git -prune -o -type f -print | sort").output.split()
    assert listing == ["./pkg/__init__.py", "./pkg/core.py", "./tests/test_core.py"]
    assert sandbox.read_file("pkg/core.py") == b"def add(a, b):\n    return a + b\n"


def test_snapshots_survive_the_agent_deleting_its_git_dir(sandbox):
    ref = sandbox.snapshot()
    sandbox.execute("rm -rf .git; echo x > pkg/core.py")
    sandbox.restore(ref)
    assert sandbox.read_file("pkg/core.py").startswith(b"def add")


def test_close_is_idempotent(sandbox):
    sandbox.close()
    sandbox.close()
