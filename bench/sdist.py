"""A PyPI source distribution as the source of a bench repository.

Only task metadata is committed to engram (instance ids, base commits, statements,
fix diffs); the package's own source is fetched on the machine that runs the bench,
with pip's ordinary client (`pip download --no-binary :all: --no-deps`). Pinned
sha256 sums make the downloaded file — and so the bench repository's commits — the
same everywhere; a package without a pin is accepted and its sum reported.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

# name==version → sha256 of the sdist the committed task sets were generated from.
PINNED = {
    "toolz==1.1.0": "27a5c770d068c110d9ed9323f24f1543e83b2f300a687b7891c1a6d56b697b5b",
}
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9.+!_-]+)$")


class SdistError(RuntimeError):
    """The sdist cannot be fetched or unpacked; the message says what to do."""

    user_facing = True


def parse_requirement(text: str) -> tuple[str, str]:
    """`NAME==VERSION` → (name, version); only exact pins make reproducible repositories."""
    match = _REQUIREMENT.match(text.strip())
    if not match:
        raise SdistError(f"'{text}': give an exact version, as in toolz==1.1.0")
    return match["name"], match["version"]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _find_archive(folder: Path, name: str, version: str) -> Path | None:
    wanted = normalise(name).replace("-", "_")
    for path in sorted(folder.iterdir()):
        stem = path.name.lower().replace("-", "_")
        if stem.startswith(f"{wanted}_{version}".lower()) and path.name.endswith(
            (".tar.gz", ".zip", ".tar.bz2")
        ):
            return path
    return None


def download_sdist(
    name: str, version: str, cache: Path, report: Callable[[str], None] = lambda m: None
) -> Path:
    """The sdist file of name==version, from `cache` or downloaded with pip; sha256 checked."""
    cache.mkdir(parents=True, exist_ok=True)
    archive = _find_archive(cache, name, version)
    if archive is None:
        report(f"downloading the sdist of {name}=={version} with pip")
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                   "--disable-pip-version-check", "-q", "-d", tmp, f"{name}=={version}"]  # fmt: skip
            proc = subprocess.run(cmd, capture_output=True, text=True)
            got = _find_archive(Path(tmp), name, version)
            if proc.returncode != 0 or got is None:
                raise SdistError(
                    f"pip could not download the sdist of {name}=={version}: "
                    f"{(proc.stderr or proc.stdout).strip()[-800:]}\nCheck the name and version "
                    "and that PyPI (or your pip index) can be reached."
                )
            archive = cache / got.name
            shutil.move(str(got), archive)
    pinned = PINNED.get(f"{normalise(name)}=={version}")
    actual = sha256_of(archive)
    if pinned and actual != pinned:
        raise SdistError(
            f"{archive.name} has sha256 {actual}, expected {pinned}: the task sets were made "
            f"from a different file. Delete {archive} and fetch again."
        )
    return archive


def _members_root(names: list[str]) -> str:
    tops = {PurePosixPath(n).parts[0] for n in names if n and not n.startswith("/")}
    return tops.pop() if len(tops) == 1 else ""


def extract_sdist(archive: Path, dest: Path) -> Path:
    """Unpack into `dest` (created; must not exist), dropping the archive's top folder."""
    if dest.exists():
        raise SdistError(f"{dest} already exists")
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        staging = Path(tmp)
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = (staging / member).resolve()
                    if staging.resolve() not in target.parents and target != staging.resolve():
                        raise SdistError(f"{archive.name}: member {member} points outside")
                zf.extractall(staging)
                root = _members_root(zf.namelist())
        else:
            with tarfile.open(archive) as tf:
                # "data" refuses absolute paths, links out of the tree and device files.
                tf.extractall(staging, filter="data")
                root = _members_root(tf.getnames())
        source = staging / root if root else staging
        shutil.move(str(source), dest)
    return dest
