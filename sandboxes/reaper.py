"""PID 1 of every DockerSandbox container (runs *inside* it; stdlib only).

engram never imports this module: `container.py` passes its source to `python3 -c` in
the container, so it must run on any Python 3.6+ the image has and import nothing of
engram's. It has three duties:

1. Reap orphans: nothing else in the container would, and zombies hold pids.
2. Clear the container on request: on SIGUSR1 it kills every other process with
   `kill(-1, SIGKILL)`. Sent from PID 1 of the container's pid namespace this reaches
   every process in the namespace and nothing outside it, and it needs no new process
   (the host sends a signal, nothing is exec'd), so it works even when a fork bomb has
   taken every pid. The host sends it after a timeout and before a restore.
3. Watch the cgroup limits. When the pids cgroup is (nearly) full — a fork bomb, which
   may well run in the background after its command returned — it clears the container
   on its own, so the sandbox stays usable. When the kernel's OOM killer fires in the
   container's memory cgroup it reports that, so a command killed by SIGKILL can be
   explained to the agent.

Events are single lines on stdout, `engram-reaper <seq> <event> <detail>`, which the
host reads from the container's (size-capped) log. They are advisory: a process in the
container runs as the same uid and could write to this log as well.

PID 1 of a pid namespace only receives the signals it has a handler for, so processes
in the container cannot kill it; SIGINT/SIGTERM/SIGHUP are ignored explicitly because
Python would otherwise install a KeyboardInterrupt handler for SIGINT.
"""

import contextlib
import os
import signal
import sys
import time

PIDS_FILES = [
    ("/sys/fs/cgroup/pids/pids.current", "/sys/fs/cgroup/pids/pids.max"),  # cgroup v1
    ("/sys/fs/cgroup/pids.current", "/sys/fs/cgroup/pids.max"),  # v2, private cgroupns
]
OOM_FILES = [
    "/sys/fs/cgroup/memory/memory.oom_control",  # v1: "oom_kill N"
    "/sys/fs/cgroup/memory.events",  # v2: "oom_kill N"
]
# Clear when fewer than this many pids are left: a `docker exec` needs about three
# (runc's init, `timeout`, `bash`) before the command itself can start.
PIDS_MARGIN = 4
POLL_S = 0.1
CLEAR_DEADLINE_S = 5.0

_seq = 0


def emit(event, detail=""):
    global _seq
    _seq += 1
    try:
        sys.stdout.write(f"engram-reaper {_seq} {event} {detail}\n")
        sys.stdout.flush()
    except OSError:
        pass


def read_text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def pids_usage(fallback_limit):
    """(current, limit) of the container's pids cgroup; limit None when unlimited."""
    for current_path, max_path in PIDS_FILES:
        current, limit = read_text(current_path), read_text(max_path)
        if current is not None and limit is not None:
            limit = limit.strip()
            return int(current), (None if limit == "max" else int(limit))
    # No cgroup files visible: count the tasks ourselves against the configured limit.
    tasks = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            with contextlib.suppress(OSError):
                tasks += len(os.listdir(f"/proc/{name}/task"))
    return tasks, fallback_limit


def oom_kills():
    for path in OOM_FILES:
        text = read_text(path)
        if text is None:
            continue
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "oom_kill":
                return int(parts[1])
    return None


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def others_alive():
    """Whether any process but this one is alive (zombies count as gone)."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        stat = read_text(f"/proc/{name}/stat")
        if stat is None:
            continue
        state = stat.rsplit(")", 1)[-1].split()[:1]
        if state and state[0] not in ("Z", "X"):
            return True
    return False


def clear(reason):
    # Repeat: a process that was forking while the first kill ran may have a child the
    # first pass did not see.
    deadline = time.monotonic() + CLEAR_DEADLINE_S
    while True:
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        reap()
        if not others_alive() or time.monotonic() > deadline:
            break
        time.sleep(0.005)
    emit("cleared", reason)


def main():
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    # SIGUSR1 is blocked and collected with sigtimedwait: the clear starts at once, and
    # never inside a signal handler (where writing the event line could re-enter stdout).
    signal.signal(signal.SIGUSR1, lambda signum, frame: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    # argv: -c engram-reaper <pids limit>; the limit is only used without cgroup files.
    fallback_limit = int(sys.argv[-1]) if sys.argv[-1].isdigit() else None
    last_oom = oom_kills() or 0
    emit("ready", f"pid {os.getpid()}")
    while True:
        if signal.sigtimedwait([signal.SIGUSR1], POLL_S) is not None:
            clear("requested")
        current, limit = pids_usage(fallback_limit)
        if limit is not None and current >= limit - PIDS_MARGIN:
            emit("pids-limit", f"{current}/{limit}")
            clear("pids-limit")
        kills = oom_kills()
        if kills is not None and kills > last_oom:
            emit("oom-kill", str(kills - last_oom))
            last_oom = kills
        reap()


if __name__ == "__main__":
    main()
