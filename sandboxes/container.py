"""DockerSandbox: one long-lived container per run, a fresh `docker exec` per command.

Defaults (all from `SandboxSettings`): `--network none`, memory with no extra swap,
CPU quota, pids limit, a per-file size limit, read-only root file system with a
writable `/tmp` tmpfs, all capabilities dropped, `no-new-privileges`, the host's
uid:gid, a size-capped container log, and an environment that contains nothing of the
host's. Only the workspace is mounted.

PID 1 is `sandboxes/reaper.py`: it reaps orphans, kills every other process on SIGUSR1
(sent after a timeout and before a restore — a signal needs no free pid, an exec'd
`kill` would), clears a fork bomb on its own when the pids cgroup fills up, and reports
OOM kills so a command killed by SIGKILL can be explained. If the reaper ever fails to
clear the container, the container is restarted (the workspace is a bind mount and
survives; `/tmp` does not).
"""

from __future__ import annotations

import base64
import contextlib
import os
import shlex
import threading
import time
import uuid
import zlib
from pathlib import Path

from sandboxes.base import (
    ExecResult,
    OutputCapture,
    SandboxError,
    read_in_workspace,
    write_in_workspace,
)
from sandboxes.image import IMAGE_ENV
from sandboxes.settings import SandboxSettings, parse_size
from sandboxes.workspace import Workspace

WORKDIR = "/workspace"
REAPER_SOURCE = Path(__file__).with_name("reaper.py")
# Variables a (trusted, engram-built) image may set for its commands: a per-repo image
# puts its venv first on PATH. Nothing else of an image's environment is taken.
IMAGE_ENV_KEYS = ("PATH", "VIRTUAL_ENV")
CLEAR_WAIT_S = 3.0
EVENT_WAIT_S = 0.5
RESTARTED_NOTE = (
    "[the sandbox's processes could not be cleared, so its container was restarted: "
    "the workspace is intact, /tmp is empty]"
)
# `timeout` or runc could not start the command at all (no free pid, typically).
UNSTARTED_MARKERS = ("timeout: fork system call failed", "OCI runtime exec failed")

EVENT_NOTES = {
    "pids-limit": "[the sandbox reached its process limit ({limit}): every process in it was "
    "killed (a fork bomb, or too many processes/threads)]",
    "oom-kill": "[out of memory: the kernel killed a process in the sandbox (memory limit {memory})]",
}


def reaper_command(pids_limit: int) -> list[str]:
    """argv of PID 1: the reaper's source, compressed so `ps` in the sandbox stays legible."""
    packed = base64.b64encode(zlib.compress(REAPER_SOURCE.read_bytes(), 9)).decode()
    bootstrap = f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{packed}')))"
    return ["python3", "-c", bootstrap, "engram-reaper", str(pids_limit)]


class DockerSandbox:
    isolated = True

    def __init__(
        self,
        workspace: Workspace,
        settings: SandboxSettings | None = None,
        image: str | None = None,
        name: str | None = None,
    ):
        import docker
        from docker.types import LogConfig, Ulimit

        self.settings = settings or SandboxSettings()
        self.ws = workspace
        self.workspace = workspace.path.resolve()
        self.workdir = WORKDIR
        self.image = image or self.settings.image
        self.user = f"{os.getuid()}:{os.getgid()}"
        self._client = docker.from_env(timeout=60)
        self._closed = False
        self._reaper_pid: int | None = None
        try:
            self.env = self._environment()
            memory = parse_size(self.settings.memory)
            fsize = parse_size(self.settings.file_size_limit)
            self.container = self._client.containers.run(
                self.image,
                command=reaper_command(self.settings.pids_limit),
                name=name or f"engram-{uuid.uuid4().hex[:12]}",
                detach=True,
                user=self.user,
                working_dir=WORKDIR,
                environment=dict(self.env),
                network_mode="bridge" if self.settings.network else "none",
                mem_limit=memory,
                memswap_limit=memory,
                nano_cpus=int(self.settings.cpus * 1e9),
                pids_limit=self.settings.pids_limit,
                # One file may not exceed this (SIGXFSZ): the workspace is a bind mount
                # on the host's disk, which no cgroup limits.
                ulimits=[Ulimit(name="fsize", soft=fsize, hard=fsize)],
                read_only=True,
                tmpfs={"/tmp": f"rw,exec,nosuid,nodev,size={self.settings.tmpfs_size}"},
                volumes={str(self.workspace): {"bind": WORKDIR, "mode": "rw"}},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                # PID 1's stdout is reachable from inside (same uid): cap what it can
                # make the engine write to the host's disk.
                log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "1"}),
                labels={"engram.sandbox": "1"},
            )
        except Exception as exc:
            self._client.close()
            raise SandboxError(
                f"could not start a container from {self.image}: {exc}. "
                "Run `engram doctor` to check the engine and the image."
            ) from exc

    def _environment(self) -> dict[str, str]:
        """The fixed sandbox environment, plus PATH/VIRTUAL_ENV where the image sets them."""
        env = dict(IMAGE_ENV)
        config = self._client.images.get(self.image).attrs.get("Config") or {}
        for item in config.get("Env") or []:
            key, _, value = item.partition("=")
            if key in IMAGE_ENV_KEYS:
                env[key] = value
        return env

    # -- commands --------------------------------------------------------------

    def execute(self, cmd: str, timeout: float | None = None) -> ExecResult:
        if self._closed:
            raise SandboxError("sandbox is closed")
        limit = timeout or self.settings.command_timeout_s
        notes: list[str] = []
        # coreutils `timeout` puts the command in its own process group and signals the
        # whole group; -k escalates to KILL for commands that ignore TERM.
        wrapped = ["timeout", "-k", "2", f"{limit:.3f}", "bash", "-c", cmd]
        api = self._client.api
        since = time.time()
        started = time.monotonic()
        exec_id = self._exec_create(wrapped, notes)
        capture = OutputCapture(self.settings.output_cap_bytes)
        done = threading.Event()

        def pump() -> None:
            try:
                for chunk in api.exec_start(exec_id, stream=True, demux=False):
                    capture.feed(chunk)
            except Exception:  # the stream breaks when we kill the processes
                pass
            finally:
                done.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        hard_deadline = limit + 10.0
        finished = done.wait(hard_deadline)
        duration = time.monotonic() - started
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
        timed_out = not finished or (exit_code in (124, 137) and duration >= limit * 0.95)
        if timed_out:
            if not self._clear():
                notes.append(RESTARTED_NOTE)
            done.wait(5.0)
            exit_code = exit_code if exit_code not in (None, 0) else 124
        output, truncated = capture.result()
        unstarted = any(marker in output[:4000] for marker in UNSTARTED_MARKERS)
        if not timed_out and exit_code in (125, 126, None) and unstarted:
            # Nothing ran: the container had no free pid. Clear it so the next command
            # can start (the reaper normally does this on its own).
            if not self._clear():
                notes.append(RESTARTED_NOTE)
            notes.append(
                "[the command could not start: the sandbox had no free process slots. "
                "Every process in it has been killed; run the command again]"
            )
        if timed_out or exit_code is None or exit_code >= 125:
            # The reaper polls every 0.1 s: a SIGKILLed command may return before its
            # OOM report is written, so give the report a moment to arrive.
            wait = EVENT_WAIT_S if exit_code == 137 and not timed_out else 0.0
            notes += self._event_notes(since, wait)
        if timed_out:
            notes.append(f"[command timed out after {limit:.0f} s and was killed]")
        if notes:
            output += "\n" + "\n".join(notes)
        return ExecResult(
            exit_code=int(exit_code if exit_code is not None else -1),
            output=output, timed_out=timed_out, truncated=truncated, duration_s=duration,
        )  # fmt: skip

    def _exec_create(self, argv: list[str], notes: list[str]) -> str:
        import docker

        def create() -> str:
            return self._client.api.exec_create(
                self.container.id, argv, user=self.user, workdir=WORKDIR,
                environment=dict(self.env), stdout=True, stderr=True,
            )["Id"]  # fmt: skip

        try:
            return create()
        except docker.errors.APIError as exc:
            # The container stopped (its PID 1 was killed somehow): bring it back once.
            self.container.reload()
            if self.container.status == "running":
                raise SandboxError(f"docker exec failed: {exc}") from exc
            self._restart()
            notes.append(RESTARTED_NOTE)
            return create()

    def _event_notes(self, since: float, wait_s: float = 0.0) -> list[str]:
        """What the reaper reported since `since` (OOM kills, a full pids cgroup)."""
        deadline = time.monotonic() + wait_s
        while True:
            try:
                raw = self.container.logs(stdout=True, stderr=False, since=since, tail=100)
            except Exception:
                return []
            notes = self._parse_events(raw)
            if notes or time.monotonic() >= deadline:
                return notes
            time.sleep(0.05)

    def _parse_events(self, raw: bytes) -> list[str]:
        seen: list[str] = []
        for line in raw.decode("utf-8", "replace").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "engram-reaper" and parts[2] in EVENT_NOTES:
                note = EVENT_NOTES[parts[2]].format(
                    limit=self.settings.pids_limit, memory=self.settings.memory
                )
                if note not in seen:
                    seen.append(note)
        return seen

    # -- clearing processes ----------------------------------------------------

    def _clear(self) -> bool:
        """Kill every process of the run except PID 1 (the reaper); wait until done.

        Returns False when the reaper did not manage (stopped, gone, or outpaced) and the
        container was restarted instead, which kills its whole cgroup.
        """
        with contextlib.suppress(Exception):
            self.container.kill(signal="SIGUSR1")
            if self._wait_cleared(CLEAR_WAIT_S):
                return True
        with contextlib.suppress(Exception):
            self._restart()
        return False

    def _reaper_host_pid(self) -> int | None:
        if self._reaper_pid is None:
            self.container.reload()
            self._reaper_pid = int(self.container.attrs["State"]["Pid"]) or None
        return self._reaper_pid

    def _others(self) -> list[str]:
        """Host pids of live processes in the container other than the reaper."""
        top = self.container.top()
        titles = top.get("Titles") or []
        pid_col = titles.index("PID") if "PID" in titles else 1
        reaper = str(self._reaper_host_pid())
        return [
            row[pid_col]
            for row in top.get("Processes") or []
            if row[pid_col] != reaper and not row[-1].endswith("<defunct>")
        ]

    def _wait_cleared(self, wait_s: float) -> bool:
        deadline = time.monotonic() + wait_s
        while True:
            if not self._others():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)

    def _restart(self) -> None:
        self.container.restart(timeout=0)
        self._reaper_pid = None
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            self.container.reload()
            if self.container.status == "running":
                return
            time.sleep(0.05)
        raise SandboxError("the sandbox's container did not come back after a restart")

    # -- files -----------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        return read_in_workspace(self.workspace, path)

    def write_file(self, path: str, data: bytes) -> None:
        write_in_workspace(self.workspace, path, data)

    # -- snapshots -------------------------------------------------------------

    def snapshot(self, label: str = "") -> str:
        return self.ws.snapshots.snapshot(label)

    def restore(self, ref: str) -> None:
        self._clear()  # nothing may keep writing into the tree being restored
        self.ws.snapshots.restore(ref)

    # -- lifecycle -------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.container.remove(force=True)
        except Exception:
            pass
        finally:
            self._client.close()

    def __enter__(self) -> DockerSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DockerSandbox({self.image}, {shlex.quote(str(self.workspace))})"
