"""Pick and open the sandbox for a run: Docker where an engine answers, else local (loudly)."""

from __future__ import annotations

from sandboxes.base import Sandbox, SandboxError
from sandboxes.engine import engine_status
from sandboxes.settings import SandboxSettings
from sandboxes.workspace import Workspace


def open_sandbox(
    workspace: Workspace, settings: SandboxSettings, image: str | None = None
) -> Sandbox:
    kind = settings.kind
    if kind == "auto":
        kind = "docker" if engine_status(timeout=3.0).ok else "local"
    if kind == "docker":
        from sandboxes.container import DockerSandbox

        return DockerSandbox(workspace, settings, image=image)
    if kind == "local":
        from sandboxes.local import LocalSandbox

        return LocalSandbox(workspace, settings)
    raise SandboxError(f"unknown sandbox kind {kind!r}")
