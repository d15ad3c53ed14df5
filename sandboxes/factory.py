"""Pick and open the sandbox for a run: Docker where an engine answers, else local (loudly)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sandboxes.base import Sandbox, SandboxError
from sandboxes.engine import engine_status
from sandboxes.settings import SandboxSettings
from sandboxes.workspace import Workspace


def open_sandbox(
    workspace: Workspace,
    settings: SandboxSettings,
    image: str | None = None,
    images_dir: Path | None = None,
    report: Callable[[str], None] | None = None,
) -> Sandbox:
    """Open the configured sandbox on `workspace`.

    `image` forces an image. Otherwise, given `images_dir` (where per-repo image builds
    keep their cache and logs, normally `Home.images`) and with `sandbox.repo_image` on,
    the repository's own image is used — built first if it is missing or outdated — so
    its dependencies are installed; without `images_dir` the base image is used.
    """
    kind = settings.kind
    if kind == "auto":
        kind = "docker" if engine_status(timeout=3.0).ok else "local"
    if kind == "docker":
        from sandboxes.container import DockerSandbox

        if image is None and images_dir is not None and settings.repo_image:
            from sandboxes.repo_image import sandbox_image_for

            image = sandbox_image_for(
                workspace.repo, settings.image, images_dir, report or (lambda _: None),
                rev=workspace.base_commit, install_project=settings.install_project,
            )  # fmt: skip
        return DockerSandbox(workspace, settings, image=image)
    if kind == "local":
        from sandboxes.local import LocalSandbox

        return LocalSandbox(workspace, settings)
    raise SandboxError(f"unknown sandbox kind {kind!r}")
