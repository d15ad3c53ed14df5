"""Make sure a Docker engine answers.

Where none answers and we run as root (CI, fresh machines of the project's kind), we
install Debian's `docker.io` if `dockerd` is missing and start `dockerd` in the
background. Without root we never try: we say exactly what the user must do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Report = Callable[[str], None]

NOT_ROOT_HELP = (
    "No Docker engine answers, and engram only starts one itself when run as root.\n"
    "  - If Docker is installed: start it (`sudo systemctl start docker`) and make sure you may\n"
    "    use it (`sudo usermod -aG docker $USER`, then log in again).\n"
    "  - If it is not: `sudo apt-get install docker.io` (Debian/Ubuntu), then the step above.\n"
    "  - Or run without isolation: `--sandbox local` (commands then run on your machine)."
)


class EngineError(RuntimeError):
    """No engine, and we could not (or may not) start one. The message says what to do."""

    user_facing = True


@dataclass(frozen=True)
class EngineStatus:
    ok: bool
    version: str | None = None
    error: str | None = None


def engine_status(timeout: float = 5.0) -> EngineStatus:
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        try:
            version = client.version().get("Version")
        finally:
            client.close()
        return EngineStatus(True, version=version)
    except Exception as exc:  # the SDK raises many types for "not there"
        return EngineStatus(False, error=str(exc).splitlines()[0][:200])


def _is_root() -> bool:
    return os.geteuid() == 0


def _install_docker(report: Report) -> None:
    if shutil.which("apt-get") is None:
        raise EngineError("dockerd is not installed and apt-get is not available. " + NOT_ROOT_HELP)
    report("installing Debian's docker.io (apt-get)…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "docker.io"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise EngineError(
                f"`{' '.join(cmd)}` failed:\n{proc.stderr[-1200:]}\n"
                "Install Docker yourself, then run `make setup` again."
            )


def _start_dockerd(log_dir: Path, report: Report) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "dockerd.log"
    report(f"starting dockerd in the background (log: {log_path})")
    with log_path.open("ab") as log:
        # A new session: dockerd outlives this process and the shell that ran `make`.
        subprocess.Popen(
            ["dockerd"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True
        )


def ensure_engine(log_dir: Path, report: Report = print, wait_s: float = 60.0) -> EngineStatus:
    status = engine_status()
    if status.ok:
        return status
    if not _is_root():
        raise EngineError(NOT_ROOT_HELP + f"\n(Docker said: {status.error})")
    if shutil.which("dockerd") is None:
        _install_docker(report)
    _start_dockerd(log_dir, report)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        status = engine_status(timeout=2.0)
        if status.ok:
            report(f"Docker engine {status.version} answers")
            return status
        time.sleep(0.5)
    raise EngineError(
        f"dockerd was started but did not answer within {wait_s:.0f} s. "
        f"See {log_dir / 'dockerd.log'} for why."
    )
