"""`engram setup` (provisioning): everything beyond the Python packages, idempotent and fast when done.

Order matters only for clarity of errors: home first (where logs go), then the Docker
engine, the base image, and the model. Each step reports what it did or that nothing
was needed; a failing step raises with the message that says what to do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.config import EngramConfig
from agent.home import Home

Report = Callable[[str], None]


@dataclass(frozen=True)
class SetupStep:
    name: str
    outcome: str
    seconds: float


def run_setup(
    config: EngramConfig,
    home: Home,
    report: Report = print,
    docker: bool = True,
    model: bool = True,
    models: list[str] | None = None,
) -> list[SetupStep]:
    steps: list[SetupStep] = []

    def timed(name: str, fn: Callable[[], str]) -> None:
        started = time.perf_counter()
        outcome = fn()
        steps.append(SetupStep(name, outcome, time.perf_counter() - started))
        report(f"{name}: {outcome} ({steps[-1].seconds:.1f} s)")

    timed("home", lambda: str(home.ensure(home.logs, home.images, home.runs)))
    if docker:
        from sandboxes.engine import ensure_engine
        from sandboxes.image import ensure_base_image

        timed("docker engine", lambda: f"version {ensure_engine(home.logs, report).version}")
        timed("sandbox image", lambda: ensure_base_image(
            config.sandbox.image, config.sandbox.base_build, home.images, report))  # fmt: skip
    if model:
        from agent.models.fetch import fetch_model
        from agent.models.registry import REGISTRY

        for name in models or [config.model.name]:
            spec = REGISTRY.get(name)
            if spec is None:
                report(f"model: {name} is not a registry model; nothing to fetch")
                continue
            timed(f"model {name}", lambda spec=spec: str(fetch_model(spec, home.models, report).hf))
    return steps
