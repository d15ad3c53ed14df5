"""Per-repository sandbox images: the repository's own dependencies on the base image.

A repository that declares third-party requirements, or is itself an installable
package, gets an image `engram/repo-<repo id>:<digest>` built from the base image;
anything else runs on the base image as it is. The digest is a hash of what the
repository declares (see `dependencies.py`), the base image's id and the target Python,
so an unchanged repository finds its image at once and a changed one gets a new image.

The sandbox never has a network, so the build is split in two:

1. On the host, `pip download --only-binary=:all:` fetches wheels for the container's
   Python and platform into a wheelhouse, with the host's own pip configuration
   (registries are reachable from the host only). Only wheels: resolving a source
   distribution means running its build code, which must never happen on the host.
2. In a build container with `--network none`, all capabilities dropped and the
   wheelhouse mounted read-only, `pip install --no-index --find-links` installs them
   into a venv at `/opt/engram-venv` (with the base image's site-packages visible, so
   pytest and friends stay available). `docker commit` turns the result into the image,
   with the venv's `bin` first on PATH and the digest as a label.

The repository itself, when it is a package, is installed too — editable, without its
dependencies, from the committed tree mounted at `/workspace` during the build. Editable
installs point at `/workspace` (a `.pth` entry or an import hook keyed by path), which is
exactly where every run's workspace is mounted, so imports, entry points and
`importlib.metadata` see the agent's current code. Its build backend comes from the
wheelhouse as well; its build runs inside the build container, never on the host.

Not guaranteed: new top-level packages the agent adds are found only where the build
backend wrote a path entry rather than a package map (setuptools does for src and flat
layouts); entry points added after the build are not installed until the image is
rebuilt; `[project] version` changes rebuild the image.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sandboxes.dependencies import DependencySpec, canonical_name, read_dependencies
from sandboxes.gitcmd import GitError, git
from sandboxes.image import IMAGE_ENV
from sandboxes.repo import repo_identity

Report = Callable[[str], None]

LABEL_DIGEST = "engram.repo-deps"
LABEL_REPO = "engram.repo"
VENV = "/opt/engram-venv"
TAG_PREFIX = "engram/repo-"
BUILD_MEMORY = 2 * 1024**3
BUILD_TIMEOUT_S = 900
TARGET_SCRIPT = """
import json, sys
try:
    from packaging import tags
except ImportError:
    from pip._vendor.packaging import tags
all_tags = list(tags.sys_tags())
platforms = []
for tag in all_tags:
    if tag.platform not in platforms:
        platforms.append(tag.platform)
print(json.dumps({"python": "%d.%d" % sys.version_info[:2], "implementation":
    tags.interpreter_name(), "abi": all_tags[0].abi, "platforms": platforms}))
"""


class RepoImageError(RuntimeError):
    """The per-repo image could not be built; the message says which requirement and why."""

    user_facing = True


@dataclass(frozen=True)
class RepoImagePlan:
    repo_id: str
    base: str
    spec: DependencySpec
    install_project: bool
    digest: str | None  # None: the repository needs nothing beyond the base image
    tag: str  # the image to run (the base image when digest is None)
    target: dict


@dataclass(frozen=True)
class RepoImage:
    tag: str
    status: str  # "base" (nothing to install), "cached" or "built"
    plan: RepoImagePlan
    seconds: float


def _client():
    import docker

    return docker.from_env(timeout=120)


def image_labels(client, tag: str) -> dict[str, str] | None:
    import docker

    try:
        return client.images.get(tag).attrs["Config"].get("Labels") or {}
    except docker.errors.ImageNotFound:
        return None


def python_target(client, base: str, base_id: str, cache_dir: Path) -> dict:
    """The base image's Python version, implementation, ABI and platform tags (cached)."""
    cache = cache_dir / f"python-target-{base_id.split(':')[-1][:16]}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    out = client.containers.run(
        base, ["python3", "-c", TARGET_SCRIPT], remove=True, network_mode="none",
        user=f"{os.getuid()}:{os.getgid()}", cap_drop=["ALL"],
    )  # fmt: skip
    target = json.loads(out.decode().strip().splitlines()[-1])
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(target))
    return target


def plan_repo_image(
    repo: Path, base: str, work_dir: Path, rev: str = "HEAD", install_project: bool = True
) -> RepoImagePlan:
    """Read what `repo` declares at `rev` and name the image it needs (nothing is built)."""
    try:
        spec = read_dependencies(repo, rev)
    except GitError as exc:
        raise RepoImageError(f"cannot read {repo} at {rev}: {exc.stderr.strip()}") from exc
    repo_id = repo_identity(repo).id
    if not spec.needs_image(install_project):
        return RepoImagePlan(repo_id, base, spec, install_project, None, base, {})
    client = _client()
    try:
        import docker

        try:
            base_id = client.images.get(base).id
        except docker.errors.ImageNotFound:
            raise RepoImageError(
                f"the base image {base} is missing: run `engram setup` first"
            ) from None
        target = python_target(client, base, base_id, work_dir)
    finally:
        client.close()
    digest = spec.digest(base_id, target, install_project)
    tag = f"{TAG_PREFIX}{repo_id}:{digest[:16]}"
    return RepoImagePlan(repo_id, base, spec, install_project, digest, tag, target)


def image_exists(plan: RepoImagePlan) -> bool:
    """Whether the image `plan` names is built and carries the plan's digest."""
    if plan.digest is None:
        return True
    client = _client()
    try:
        labels = image_labels(client, plan.tag)
    finally:
        client.close()
    return labels is not None and labels.get(LABEL_DIGEST) == plan.digest


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_repo_image(
    repo: Path,
    base: str,
    work_dir: Path,
    report: Report = print,
    rev: str = "HEAD",
    install_project: bool = True,
    rebuild: bool = False,
) -> RepoImage:
    """The image to run `repo`'s sandboxes on, built if it is missing or outdated."""
    started = time.monotonic()
    plan = plan_repo_image(repo, base, work_dir, rev, install_project)
    if plan.digest is None:
        return RepoImage(base, "base", plan, time.monotonic() - started)
    client = _client()
    try:
        with _lock(work_dir / f"{plan.repo_id}.lock"):
            labels = image_labels(client, plan.tag)
            if labels is not None and labels.get(LABEL_DIGEST) == plan.digest and not rebuild:
                return RepoImage(plan.tag, "cached", plan, time.monotonic() - started)
            _build(client, repo, rev, plan, work_dir, report)
            _prune_older(client, plan)
    finally:
        client.close()
    return RepoImage(plan.tag, "built", plan, time.monotonic() - started)


# -- the build -----------------------------------------------------------------------


def _pip_download(
    requirements: list[str], args: list[str], plan: RepoImagePlan, wheelhouse: Path, log: Path
) -> None:
    target = plan.target
    cmd = [
        sys.executable, "-m", "pip", "download", "--dest", str(wheelhouse),
        "--only-binary=:all:", "--progress-bar", "off", "--disable-pip-version-check",
        "--python-version", target["python"], "--implementation", target["implementation"],
        "--abi", target["abi"],
    ]  # fmt: skip
    for platform in target["platforms"]:
        cmd += ["--platform", platform]
    cmd += args + requirements
    with log.open("ab") as handle:
        handle.write(f"\n$ {' '.join(cmd)}\n".encode())
        handle.flush()
        proc = subprocess.run(cmd, stdout=handle, stderr=subprocess.STDOUT, env=os.environ.copy())
    if proc.returncode != 0:
        raise RepoImageError(_explain_download_failure(log.read_text(errors="replace"), plan))


def _explain_download_failure(output: str, plan: RepoImagePlan) -> str:
    where = f"Python {plan.target['python']} ({plan.target['platforms'][0]})"
    missing = re.findall(r"No matching distribution found for (\S+)", output)
    if missing:
        name = missing[-1]
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", name)
        wanted = canonical_name(match.group(0)) if match else name
        declared = [
            f"'{r.line}' ({r.source})"
            for r in plan.spec.requirements
            if canonical_name(re.split(r"[^A-Za-z0-9._-]", r.line, maxsplit=1)[0]) == wanted
        ]
        origin = (
            f"declared as {', '.join(declared)}" if declared else "needed by a declared requirement"
        )
        return (
            f"could not resolve requirement {name} ({origin}): no wheel for {where} is available "
            "from the package index the host's pip uses. engram installs wheels only (building a "
            "source distribution would run its code on the host). Fix the requirement, or set "
            "`sandbox.repo_image = false` to run on the base image."
        )
    conflict = re.search(r"(Cannot install .*?conflicting dependencies\.)", output, re.S)
    if conflict:
        return f"the requirements conflict: {' '.join(conflict.group(1).split())}"
    tail = "\n".join(output.strip().splitlines()[-15:])
    return f"pip download failed for {where}:\n{tail}"


def _export_tree(repo: Path, rev: str, dest: Path) -> None:
    """The committed tree at `rev` into `dest` (git archive: no hooks, no checkout)."""
    archive = dest.with_suffix(".tar")
    git(["archive", "--format=tar", "-o", str(archive), rev], cwd=repo)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()


def _open_up(root: Path) -> None:
    # The build runs as root *without* CAP_DAC_OVERRIDE: files the host user owns must
    # be readable (and the source tree writable, for egg-info) by others.
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | (0o777 if path.is_dir() else 0o666))


def _build_script(plan: RepoImagePlan, constraints: bool) -> str:
    pip = (
        f"{VENV}/bin/pip install --no-index --find-links /wheels --no-cache-dir --progress-bar off"
    )
    lines = [
        "set -eu",
        f"python3 -m venv --system-site-packages {VENV}",
        f"{pip} -r /engram-req/requirements.txt" + (" -c /engram-req/constraints.txt" if constraints else ""),
    ]  # fmt: skip
    if plan.install_project and plan.spec.is_package:
        lines.append(f"{pip} --no-deps -e /workspace")
    return "\n".join(lines) + "\n"


def _build(
    client, repo: Path, rev: str, plan: RepoImagePlan, work_dir: Path, report: Report
) -> None:
    import docker

    work_dir.mkdir(parents=True, exist_ok=True)
    log = work_dir / f"{plan.repo_id}.build.log"
    log.write_text(f"building {plan.tag} from {plan.base}\n")
    staging = Path(tempfile.mkdtemp(dir=work_dir, prefix=".repo-build-"))
    wheelhouse, reqdir, source = staging / "wheels", staging / "req", staging / "src"
    for directory in (wheelhouse, reqdir, source):
        directory.mkdir()
    try:
        spec = plan.spec
        (reqdir / "requirements.txt").write_text("".join(f"{r.line}\n" for r in spec.requirements))
        if spec.constraints:
            (reqdir / "constraints.txt").write_text(
                "".join(f"{r.line}\n" for r in spec.constraints)
            )
        installing_project = plan.install_project and spec.is_package
        report(f"downloading wheels for {len(spec.requirements)} requirement(s) on the host…")
        if spec.requirements:
            extra = ["-r", str(reqdir / "requirements.txt")]
            if spec.constraints:
                extra += ["-c", str(reqdir / "constraints.txt")]
            _pip_download([], extra, plan, wheelhouse, log)
        if installing_project:
            # Resolved on their own: build requirements may conflict with runtime ones.
            _pip_download([*spec.build_requires, "wheel"], [], plan, wheelhouse, log)
            _export_tree(repo, rev, source)
        _open_up(staging)
        report(f"installing into {plan.tag} (build container, no network)…")
        container = client.containers.run(
            plan.base, ["bash", "-c", _build_script(plan, bool(spec.constraints))],
            detach=True, network_mode="none", user="0:0", working_dir="/workspace",
            environment={**IMAGE_ENV, "PYTHONDONTWRITEBYTECODE": "", "PIP_NO_INPUT": "1"},
            cap_drop=["ALL"], security_opt=["no-new-privileges"], mem_limit=BUILD_MEMORY,
            memswap_limit=BUILD_MEMORY, pids_limit=512, labels={"engram.build": plan.repo_id},
            volumes={
                str(wheelhouse): {"bind": "/wheels", "mode": "ro"},
                str(reqdir): {"bind": "/engram-req", "mode": "ro"},
                str(source): {"bind": "/workspace", "mode": "rw"},
            },
        )  # fmt: skip
        try:
            try:
                status = container.wait(timeout=BUILD_TIMEOUT_S)
            except Exception as exc:
                raise RepoImageError(f"the build container did not finish: {exc}") from exc
            output = container.logs().decode("utf-8", "replace")
            with log.open("a") as handle:
                handle.write(output)
            if status.get("StatusCode") != 0:
                tail = "\n".join(output.strip().splitlines()[-20:])
                what = (
                    "the project's editable install" if "-e /workspace" in tail else "pip install"
                )
                raise RepoImageError(f"{what} failed in the build container (log {log}):\n{tail}")
            path = _image_path(client, plan.base)
            container.commit(
                repository=plan.tag.rsplit(":", 1)[0], tag=plan.tag.rsplit(":", 1)[1],
                changes=[
                    f"ENV PATH={VENV}/bin:{path}", f"ENV VIRTUAL_ENV={VENV}",
                    f"LABEL {LABEL_DIGEST}={plan.digest}", f"LABEL {LABEL_REPO}={plan.repo_id}",
                    "WORKDIR /workspace", 'CMD ["sleep", "infinity"]',
                ],
            )  # fmt: skip
        finally:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
        report(f"built {plan.tag}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _image_path(client, image: str) -> str:
    for item in client.images.get(image).attrs["Config"].get("Env") or []:
        key, _, value = item.partition("=")
        if key == "PATH":
            return value
    return IMAGE_ENV["PATH"]


def _prune_older(client, plan: RepoImagePlan) -> None:
    """Remove this repository's previous images (an image still in use stays)."""
    import docker

    keep = client.images.get(plan.tag).id
    for image in client.images.list(filters={"label": f"{LABEL_REPO}={plan.repo_id}"}):
        if image.id != keep:
            with contextlib.suppress(docker.errors.APIError):
                client.images.remove(image.id)


def sandbox_image_for(
    repo: Path,
    base: str,
    work_dir: Path,
    report: Report = print,
    rev: str = "HEAD",
    install_project: bool = True,
) -> str:
    """The image tag to open `repo`'s sandbox on: its per-repo image, or the base image."""
    return ensure_repo_image(repo, base, work_dir, report, rev, install_project).tag
