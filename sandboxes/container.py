"""DockerSandbox: one long-lived container per run, a fresh `docker exec` per command.

Defaults (all from `SandboxSettings`): `--network none`, memory with no extra swap,
CPU quota, pids limit, read-only root file system with a writable `/tmp` tmpfs, all
capabilities dropped, `no-new-privileges`, the host's uid:gid, and an environment
that contains nothing of the host's. Only the workspace is mounted.

PID 1 is a tiny reaper (Python): orphans are reaped, and because the kernel protects
PID 1 from signals it does not handle, `kill -9 -1` after a timeout clears every
process the run left behind without stopping the container.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import threading
import time
import uuid

from sandboxes.base import (
    ExecResult,
    OutputCapture,
    SandboxError,
    read_in_workspace,
    write_in_workspace,
)
from sandboxes.image import IMAGE_ENV
from sandboxes.settings import SandboxSettings
from sandboxes.workspace import Workspace

WORKDIR = "/workspace"
REAPER = (
    "import os,time\n"
    "while True:\n"
    "    try:\n"
    "        os.wait()\n"
    "    except ChildProcessError:\n"
    "        time.sleep(0.5)\n"
)


def _memory_bytes(text: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    text = text.strip().lower().rstrip("b")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


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

        self.settings = settings or SandboxSettings()
        self.ws = workspace
        self.workspace = workspace.path.resolve()
        self.workdir = WORKDIR
        self.image = image or self.settings.image
        self.user = f"{os.getuid()}:{os.getgid()}"
        self._client = docker.from_env(timeout=60)
        self._closed = False
        try:
            self.container = self._client.containers.run(
                self.image,
                command=["python3", "-c", REAPER],
                name=name or f"engram-{uuid.uuid4().hex[:12]}",
                detach=True,
                user=self.user,
                working_dir=WORKDIR,
                environment=dict(IMAGE_ENV),
                network_mode="bridge" if self.settings.network else "none",
                mem_limit=_memory_bytes(self.settings.memory),
                memswap_limit=_memory_bytes(self.settings.memory),
                nano_cpus=int(self.settings.cpus * 1e9),
                pids_limit=self.settings.pids_limit,
                read_only=True,
                tmpfs={"/tmp": f"rw,exec,nosuid,size={self.settings.tmpfs_size}"},
                volumes={str(self.workspace): {"bind": WORKDIR, "mode": "rw"}},
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                labels={"engram.sandbox": "1"},
            )
        except Exception as exc:
            self._client.close()
            raise SandboxError(
                f"could not start a container from {self.image}: {exc}. "
                "Run `engram doctor` to check the engine and the image."
            ) from exc

    # -- commands --------------------------------------------------------------

    def execute(self, cmd: str, timeout: float | None = None) -> ExecResult:
        if self._closed:
            raise SandboxError("sandbox is closed")
        limit = timeout or self.settings.command_timeout_s
        # coreutils `timeout` puts the command in its own process group and signals the
        # whole group; -k escalates to KILL for commands that ignore TERM.
        wrapped = ["timeout", "-k", "2", f"{limit:.3f}", "bash", "-c", cmd]
        api = self._client.api
        started = time.monotonic()
        exec_id = api.exec_create(
            self.container.id, wrapped, user=self.user, workdir=WORKDIR,
            environment=dict(IMAGE_ENV), stdout=True, stderr=True,
        )["Id"]  # fmt: skip
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
            self._kill_all()
            done.wait(5.0)
            exit_code = exit_code if exit_code not in (None, 0) else 124
        output, truncated = capture.result()
        if timed_out:
            output += f"\n[command timed out after {limit:.0f} s and was killed]"
        return ExecResult(
            exit_code=int(exit_code if exit_code is not None else -1),
            output=output, timed_out=timed_out, truncated=truncated, duration_s=duration,
        )  # fmt: skip

    def _kill_all(self) -> None:
        """Kill every process of the run except PID 1 (the reaper)."""
        with contextlib.suppress(Exception):
            self.container.exec_run(["kill", "-9", "-1"], user=self.user)

    # -- files -----------------------------------------------------------------

    def read_file(self, path: str) -> bytes:
        return read_in_workspace(self.workspace, path)

    def write_file(self, path: str, data: bytes) -> None:
        write_in_workspace(self.workspace, path, data)

    # -- snapshots -------------------------------------------------------------

    def snapshot(self, label: str = "") -> str:
        return self.ws.snapshots.snapshot(label)

    def restore(self, ref: str) -> None:
        self._kill_all()  # nothing may keep writing into the tree being restored
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
