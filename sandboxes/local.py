"""LocalSandbox: runs commands directly on this machine. It does NOT isolate.

The fallback where no Docker engine answers (or `--sandbox local` is asked for). It
keeps the same contract as DockerSandbox — workspace-confined file access, process
group kill on timeout, capped output, host-side snapshots — but the commands the
agent runs can read and write anything your user can. It says so loudly when created.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings

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

WARNING = (
    "LocalSandbox does not isolate: commands run on this machine with your permissions, "
    "network and files. Use the Docker sandbox for anything you do not fully trust."
)


class LocalSandboxWarning(UserWarning):
    pass


class LocalSandbox:
    isolated = False

    def __init__(self, workspace: Workspace, settings: SandboxSettings | None = None):
        warnings.warn(WARNING, LocalSandboxWarning, stacklevel=2)
        print(f"WARNING: {WARNING}", file=sys.stderr)
        self.settings = settings or SandboxSettings()
        self.ws = workspace
        self.workspace = workspace.path.resolve()
        self.workdir = str(self.workspace)
        self._home = tempfile.mkdtemp(prefix="engram-local-home-")
        self._closed = False

    def _env(self) -> dict[str, str]:
        env = dict(IMAGE_ENV)
        # The host PATH (python, git) but nothing else of the host environment.
        env["PATH"] = os.environ.get("PATH", env["PATH"])
        env["HOME"] = self._home
        return env

    def execute(self, cmd: str, timeout: float | None = None) -> ExecResult:
        if self._closed:
            raise SandboxError("sandbox is closed")
        limit = timeout or self.settings.command_timeout_s
        started = time.monotonic()
        proc = subprocess.Popen(
            ["bash", "-c", cmd], cwd=self.workspace, env=self._env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        capture = OutputCapture(self.settings.output_cap_bytes)
        timed_out = False
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        while True:
            chunk = proc.stdout.read(65536)
            if chunk:
                capture.feed(chunk)
                continue
            if proc.poll() is not None and not chunk:
                rest = proc.stdout.read()
                if rest:
                    capture.feed(rest)
                break
            if time.monotonic() - started > limit:
                timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                break
            time.sleep(0.01)
        proc.stdout.close()
        output, truncated = capture.result()
        if timed_out:
            output += f"\n[command timed out after {limit:.0f} s and was killed]"
        return ExecResult(
            exit_code=124 if timed_out else proc.returncode, output=output,
            timed_out=timed_out, truncated=truncated, duration_s=time.monotonic() - started,
        )  # fmt: skip

    def read_file(self, path: str) -> bytes:
        return read_in_workspace(self.workspace, path)

    def write_file(self, path: str, data: bytes) -> None:
        write_in_workspace(self.workspace, path, data)

    def snapshot(self, label: str = "") -> str:
        return self.ws.snapshots.snapshot(label)

    def restore(self, ref: str) -> None:
        self.ws.snapshots.restore(ref)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            import shutil

            shutil.rmtree(self._home, ignore_errors=True)

    def __enter__(self) -> LocalSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
