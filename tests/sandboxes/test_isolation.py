"""Adversarial tests: what a command run in the Docker sandbox must not be able to do.

Each test asserts one property with a real container, leaves the host as it was and,
where that makes sense, checks that the sandbox still works afterwards. Host-side file
access (tool arguments, snapshots) is attacked in `test_isolation_files.py`.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time

import pytest

from sandboxes.container import DockerSandbox
from sandboxes.settings import SandboxSettings

pytestmark = pytest.mark.docker

PIDS_LIMIT = 64
TIGHT = SandboxSettings(
    pids_limit=PIDS_LIMIT, memory="256m", tmpfs_size="16m", file_size_limit="8m",
    command_timeout_s=30,
)  # fmt: skip


@pytest.fixture
def box(sandbox_image, workspace):
    with DockerSandbox(workspace, TIGHT) as sandbox:
        yield sandbox


def host_process_count() -> int:
    return sum(1 for name in os.listdir("/proc") if name.isdigit())


def py(code: str) -> str:
    """A shell command running `code` with the sandbox's python3."""
    return "python3 - <<'PYEOF'\n" + code + "\nPYEOF"


# -- network -------------------------------------------------------------------


@pytest.fixture
def host_listener():
    """A TCP server really listening on every host address, so a connect could succeed."""
    server = socket.create_server(("0.0.0.0", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def test_tcp_connect_to_the_host_and_beyond_fails(box, host_listener):
    # 172.17.0.1: Docker's default bridge gateway, i.e. this host; the others are public.
    targets = [("172.17.0.1", host_listener), ("1.1.1.1", 80), ("8.8.8.8", 53)]
    targets += [(ip, host_listener) for ip in socket.gethostbyname_ex(socket.gethostname())[2]]
    code = "import socket\n" + "".join(
        f"try:\n    socket.create_connection(({ip!r}, {port}), timeout=3)\n    print('CONNECTED', {ip!r})\n"
        "except OSError as e:\n    print('refused', e)\n"
        for ip, port in targets
    )
    result = box.execute(py(code), timeout=60)
    assert result.exit_code == 0 and "CONNECTED" not in result.output, result.output


def test_dns_lookup_fails(box):
    result = box.execute(py("import socket\nprint(socket.getaddrinfo('pypi.org', 443))"))
    assert result.exit_code != 0 and "gaierror" in result.output, result.output


def test_only_the_loopback_interface_exists(box):
    assert box.execute("ls /sys/class/net").output.split() == ["lo"]


# -- processes, memory, time ---------------------------------------------------


def test_fork_bomb_is_contained_by_the_pids_limit(box):
    baseline = host_process_count()
    peak = baseline
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, host_process_count())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    started = time.monotonic()
    try:
        box.execute(":(){ :|:& };:", timeout=20)
        box.execute("sleep 1")  # the bomb went on in the background: give it time
    finally:
        done.set()
        sampler.join()
    # Other users of the machine add noise; an uncontained bomb adds thousands.
    assert peak - baseline < PIDS_LIMIT + 100
    assert time.monotonic() - started < 25
    assert host_process_count() < baseline + 50


def test_sandbox_is_usable_after_a_fork_bomb(box):
    box.execute(":(){ :|:& };:", timeout=20)
    time.sleep(1)
    result = box.execute("echo alive; ps -e --no-headers | wc -l")
    lines = result.output.split()
    assert result.exit_code == 0 and lines[0] == "alive"
    assert int(lines[1]) < 10  # the reaper, the exec'd shell and ps: the bomb is gone


def test_foreground_fork_bomb_ends_quickly_with_a_note(box):
    started = time.monotonic()
    result = box.execute(py("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"), timeout=60)  # fmt: skip
    assert time.monotonic() - started < 15
    assert "process limit" in result.output, result.output


def test_memory_hog_is_killed_and_explained(box):
    hog = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 * 1024))"
    result = box.execute(py(hog), timeout=60)
    assert (result.exit_code, result.timed_out) == (137, False)
    assert "out of memory" in result.output, result.output


def test_sandbox_is_usable_after_a_memory_hog(box):
    box.execute(py("x = bytearray(1024 ** 3)"), timeout=60)
    assert box.execute("echo alive").output.strip() == "alive"


def test_infinite_loop_stops_at_its_timeout(box):
    result = box.execute("while :; do :; done", timeout=2)
    assert result.timed_out and result.duration_s < 8


def test_loop_ignoring_sigterm_stops_at_its_timeout(box):
    result = box.execute("trap '' TERM; while :; do :; done", timeout=1)
    assert result.timed_out and result.duration_s < 8


def test_background_processes_of_a_timed_out_command_are_gone(box):
    # Three ways to escape a process-group kill: a new session, nohup, a double fork.
    box.execute("setsid sleep 1000 & nohup sleep 1001 >/dev/null & (sleep 1002 &); sleep 100",
                timeout=1)  # fmt: skip
    listing = box.execute("ps -eo comm --no-headers").output.split()
    assert "sleep" not in listing, listing


def test_sandbox_recovers_when_its_reaper_is_gone(box):
    box.container.kill()  # SIGKILL to PID 1 from outside: the container stops
    result = box.execute("echo alive; cat pkg/core.py | head -1")
    assert result.output.split("\n")[:2] == ["alive", "def add(a, b):"]
    assert "restarted" in result.output


def test_timeout_recovers_when_the_reaper_is_stuck(box):
    box.container.kill(signal="SIGSTOP")  # a stopped PID 1 cannot clear anything
    result = box.execute("setsid sleep 1000 & sleep 100", timeout=1)
    assert result.timed_out and "restarted" in result.output
    listing = box.execute("ps -eo comm --no-headers").output.split()
    assert "sleep" not in listing and listing[0] == "python3"


# -- file system ---------------------------------------------------------------


@pytest.mark.parametrize("directory", ["/", "/etc", "/usr", "/root", "/var", "/opt", "/home"])
def test_writes_outside_the_workspace_fail(box, directory):
    target = f"{directory.rstrip('/')}/engram-probe"
    result = box.execute(f"echo x > {target} || exit 9; echo WROTE")
    assert result.exit_code == 9 and box.execute(f"test -e {target}").exit_code != 0


def test_tmp_is_a_writable_tmpfs(box):
    result = box.execute("echo x > /tmp/probe && cat /tmp/probe && awk '$2 == \"/tmp\" {print $3}' /proc/mounts")  # fmt: skip
    assert result.output.split() == ["x", "tmpfs"]


def test_tmp_is_bounded_by_its_size(box):
    # Files of 4 MiB each: under the per-file limit, so only the tmpfs size can stop them.
    result = box.execute("for i in $(seq 8); do head -c 4m /dev/zero > /tmp/f$i || exit 1; done")
    assert result.exit_code != 0 and "No space left" in result.output


def test_one_file_cannot_exceed_the_file_size_limit(box):
    result = box.execute("head -c 16m /dev/zero > big.bin")
    size = (box.workspace / "big.bin").stat().st_size
    assert result.exit_code != 0 and size <= 8 * 1024 * 1024


# -- output --------------------------------------------------------------------


@pytest.mark.slow
def test_two_gigabytes_of_output_are_capped_in_bounded_memory(box):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = box.execute("head -c 2000000000 /dev/zero | tr '\\0' x; echo END", timeout=300)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.ok and result.truncated and result.output.rstrip().endswith("END")
    assert len(result.output) < box.settings.output_cap_bytes + 200
    assert grown_mib < 100, f"the host process grew by {grown_mib:.0f} MiB"


# -- environment and privileges ------------------------------------------------


def test_host_environment_is_not_visible(sandbox_image, workspace, monkeypatch):
    secret = "engram-fake-secret-7f3a9c"
    monkeypatch.setenv("ENGRAM_FAKE_TOKEN", secret)
    monkeypatch.setenv("GITHUB_TOKEN", secret)
    with DockerSandbox(workspace, TIGHT) as sandbox:
        result = sandbox.execute("env; tr '\\0' '\\n' < /proc/1/environ")
    assert result.ok and secret not in result.output and "GITHUB_TOKEN" not in result.output


def test_mount_fails(box):
    result = box.execute("mkdir -p /tmp/m && mount -t tmpfs none /tmp/m && echo MOUNTED")
    assert result.exit_code != 0 and "MOUNTED" not in result.output


def test_chown_to_another_uid_fails(box):
    result = box.execute("touch mine && chown 12345:12345 mine")
    assert result.exit_code != 0 and (box.workspace / "mine").stat().st_uid == os.getuid()


def test_raw_sockets_fail(box):
    code = "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)"
    result = box.execute(py(code))
    assert result.exit_code != 0 and "PermissionError" in result.output


def test_every_capability_is_dropped(box):
    caps = box.execute("grep -E '^Cap(Prm|Eff|Bnd|Amb)' /proc/self/status").output.split()
    assert caps[1::2] == ["0000000000000000"] * 4


def test_no_new_privileges_is_set(box):
    assert box.execute("grep NoNewPrivs /proc/self/status").output.split() == ["NoNewPrivs:", "1"]


def test_commands_run_as_the_host_uid(box):
    result = box.execute("id -u; id -g; touch owned")
    owner = (box.workspace / "owned").stat()
    expected = [str(os.getuid()), str(os.getgid())]
    assert result.output.split() == expected and [str(owner.st_uid), str(owner.st_gid)] == expected


def test_docker_socket_and_engram_home_are_not_reachable(box, isolated_home):
    result = box.execute(
        f"ls /var/run/docker.sock /run/docker.sock {isolated_home} 2>&1; mount | grep -c docker.sock"
    )
    assert result.output.count("No such file") == 3, result.output
