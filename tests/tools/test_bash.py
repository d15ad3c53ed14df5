"""bash: commands in the sandbox with timeout, capped output, exit code, refusals."""

import pytest

from tests.tools.conftest import call
from tools.base import ToolContext, ToolLimits
from tools.bash import interactive_reason


@pytest.mark.docker
def test_output_and_exit_code_are_stated(box):
    result = call(box, "bash", command="echo hello; exit 3")
    assert result.text == "hello\n[exit code 3]" and result.exit_code == 3 and not result.ok


@pytest.mark.docker
def test_commands_start_in_the_repository_root(box):
    assert call(box, "bash", command="ls src").text.startswith("shop")


@pytest.mark.docker
def test_empty_output_is_said(box):
    assert call(box, "bash", command="true").text == "(no output)\n[exit code 0]"


@pytest.mark.docker
def test_timeout_kills_and_says_what_to_do(docker_box):
    result = call(docker_box, "bash", command="sleep 20", timeout=1)
    assert result.error_kind == "timeout" and "timed out after 1 s" in result.text


@pytest.mark.docker
def test_long_output_is_cut_in_the_middle_keeping_the_end(docker_box):
    ctx = ToolContext(docker_box, limits=ToolLimits(output_chars=1000))
    result = call(docker_box, "bash", ctx, command="seq 1 5000")
    assert result.truncated and "characters cut" in result.text and "\n5000\n" in result.text
    assert len(result.text) < 1100


@pytest.mark.docker
def test_python_works_where_the_image_has_only_python3(docker_box):
    result = call(docker_box, "bash", command="python -c 'print(6 * 7)'")
    assert result.text.startswith("42")


@pytest.mark.docker
def test_no_network_is_explained(docker_box):
    result = call(
        docker_box, "bash",
        command="python3 -c \"import socket; socket.getaddrinfo('pypi.org', 443)\"",
    )  # fmt: skip
    assert not result.ok and "no network" in result.text


@pytest.mark.docker
def test_refused_commands_do_not_run(box):
    result = call(box, "bash", command="touch ran.txt && vim ran.txt")
    assert result.error_kind == "refused" and not (box.workspace / "ran.txt").exists()


@pytest.mark.parametrize(
    "command",
    ["vim a.py", "nano x", "less log.txt", "cat x | less", "python", "python3", "python -i x.py",
     "top", "tail -f app.log", "git commit", "cd src && python3", "FOO=1 python3", "ipython",
     "bash", "git rebase -i HEAD~2", "python3 -m pdb x.py", "man ls", "timeout 5 vim x"],
)  # fmt: skip
def test_interactive_commands_are_detected(command):
    assert interactive_reason(command) is not None


@pytest.mark.parametrize(
    "command",
    ["python3 -m pytest -q", "python -c 'print(1)'", "echo 'print(1)' | python3", "git commit -m x",
     "git commit -am 'fix'", "tail -n 20 log.txt", "grep -r less .", "python3 x.py",
     "python3 <<EOF\nimport vim\nEOF", "bash -c 'ls'", "echo vim", "ls | head", "sh script.sh"],
)  # fmt: skip
def test_ordinary_commands_are_allowed(command):
    assert interactive_reason(command) is None
