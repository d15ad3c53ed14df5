"""The sandbox base image: Python 3, pytest, pip and git.

Two ways to build it, same result:

- `dockerfile`: `sandboxes/Dockerfile` from a slim Python image — the path for users
  whose engine can pull from a registry.
- `debootstrap`: a Debian root file system made with debootstrap from the apt mirror
  the host already uses, then `docker import` — the offline path (no registry needed).

`auto` picks the Dockerfile when a registry answers and debootstrap otherwise. The
image carries a label with the hash of its recipe, so changing the recipe rebuilds it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

Report = Callable[[str], None]

DOCKERFILE = Path(__file__).with_name("Dockerfile")
SUITE = "bookworm"
PACKAGES = ["python3", "python3-pip", "python3-venv", "python3-pytest", "git", "procps"]
RECIPE_LABEL = "engram.recipe"
# Environment for every sandbox command: no host variables leak in (see container.py).
IMAGE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
}


class ImageError(RuntimeError):
    """The base image could not be built; the message says what to do."""

    user_facing = True


def recipe_hash() -> str:
    digest = hashlib.sha256()
    digest.update(DOCKERFILE.read_bytes())
    digest.update(" ".join([SUITE, *PACKAGES]).encode())
    digest.update(repr(sorted(IMAGE_ENV.items())).encode())
    return digest.hexdigest()[:16]


def image_recipe(tag: str) -> str | None:
    """The recipe label of a local image, '' if it has none, None if it is absent."""
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}', tag],
        capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        return None
    return proc.stdout.strip().replace("<no value>", "")


def image_current(tag: str) -> bool:
    return image_recipe(tag) == recipe_hash()


def registry_reachable(host: str = "registry-1.docker.io", timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def apt_mirror() -> str:
    """The Debian mirror apt on this machine already uses (debootstrap's default may not answer)."""
    candidates = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in candidates:
        for line in path.read_text(errors="replace").splitlines():
            match = re.match(r"URIs:\s*(\S+)", line)
            if match and "security" not in match.group(1):
                return match.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.is_file():
        for line in legacy.read_text(errors="replace").splitlines():
            match = re.match(r"deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", line)
            if match and "security" not in match.group(1):
                return match.group(1)
    return "http://deb.debian.org/debian"


def _run(cmd: list[str], what: str, log: Path, **kwargs) -> None:
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(cmd)}\n".encode())
        handle.flush()
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, **kwargs)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-1500:]
        raise ImageError(f"{what} failed (exit {proc.returncode}); log {log}:\n{tail}")


def _labels_args(recipe: str) -> list[str]:
    return ["--label", f"{RECIPE_LABEL}={recipe}"]


def build_with_dockerfile(tag: str, log: Path, report: Report) -> None:
    report(f"building {tag} from {DOCKERFILE.name} (needs a registry)")
    _run(["docker", "build", "-t", tag, *_labels_args(recipe_hash()), "-f", str(DOCKERFILE),
          str(DOCKERFILE.parent)], "docker build", log)  # fmt: skip


def build_with_debootstrap(tag: str, work: Path, log: Path, report: Report) -> None:
    if os.geteuid() != 0:
        raise ImageError(
            "building the base image offline needs root (debootstrap). Run `sudo make setup`, "
            "or use an engine that can pull images (`--base-build dockerfile`)."
        )
    if shutil.which("debootstrap") is None:
        report("installing debootstrap (apt-get)…")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "install", "-y", "-qq", "debootstrap"], "apt-get install debootstrap",
             log, env=env)  # fmt: skip
    mirror = apt_mirror()
    work.mkdir(parents=True, exist_ok=True)
    rootfs = Path(tempfile.mkdtemp(dir=work, prefix=".rootfs.", suffix=".partial"))
    try:
        report(f"debootstrap {SUITE} from {mirror} (about a minute)…")
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE,
              str(rootfs), mirror], "debootstrap", log)  # fmt: skip
        # Apt caches are dead weight in a sandbox image.
        shutil.rmtree(rootfs / "var/cache/apt/archives", ignore_errors=True)
        changes: list[str] = []
        for key, value in IMAGE_ENV.items():
            changes += ["--change", f"ENV {key}={value}"]
        changes += ["--change", f"LABEL {RECIPE_LABEL}={recipe_hash()}",
                    "--change", "WORKDIR /workspace", "--change", 'CMD ["sleep", "infinity"]']  # fmt: skip
        report(f"importing the root file system as {tag}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        _run(["docker", "import", *changes, "-", tag], "docker import", log, stdin=tar.stdout)
        tar.wait()
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)


def ensure_base_image(tag: str, method: str, images_dir: Path, report: Report = print) -> str:
    """Build the base image unless an up-to-date one exists. Returns how it was obtained."""
    if image_current(tag):
        return "present"
    images_dir.mkdir(parents=True, exist_ok=True)
    log = images_dir / "build.log"
    if method == "auto":
        method = "dockerfile" if registry_reachable() else "debootstrap"
    if method == "dockerfile":
        build_with_dockerfile(tag, log, report)
    else:
        build_with_debootstrap(tag, images_dir, log, report)
    if not image_current(tag):
        raise ImageError(f"{tag} was built but does not carry the expected recipe label; see {log}")
    return method
