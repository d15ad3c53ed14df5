"""Requirement lines and requirements files: what pip would read, minus what must not run.

The typed result of reading a repository's declarations (`DependencySpec`) lives here
too; `dependencies.py` fills it from pyproject.toml, setup.cfg and setup.py.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Protocol


class TreeReader(Protocol):
    """Files of one commit: `read(path)` is the text, or None when it is not there."""

    def read(self, path: str) -> str | None: ...


# Options pip accepts in a requirements file that we drop, and why.
DROPPED_OPTIONS = {
    "-i": "index options come from the host's pip configuration",
    "--index-url": "index options come from the host's pip configuration",
    "--extra-index-url": "index options come from the host's pip configuration",
    "-f": "index options come from the host's pip configuration",
    "--find-links": "index options come from the host's pip configuration",
    "--trusted-host": "index options come from the host's pip configuration",
    "--no-index": "index options come from the host's pip configuration",
    "-e": "editable requirements are local or VCS checkouts",
    "--editable": "editable requirements are local or VCS checkouts",
}
NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
MAX_INCLUDE_DEPTH = 8


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Requirement:
    line: str  # as pip reads it (PEP 508), without comments or hashes
    source: str  # where it was declared, e.g. "requirements.txt:3" or "pyproject.toml"


@dataclass
class DependencySpec:
    requirements: list[Requirement] = field(default_factory=list)
    constraints: list[Requirement] = field(default_factory=list)
    build_requires: list[str] = field(default_factory=list)
    project_name: str | None = None  # set when the repository is an installable package
    sources: list[str] = field(default_factory=list)  # files that were read
    skipped: list[str] = field(default_factory=list)  # "source: line (why)"
    # What the editable install of the project depends on (packaging metadata).
    project_fingerprint: str = ""

    @property
    def is_package(self) -> bool:
        return self.project_name is not None

    def needs_image(self, install_project: bool) -> bool:
        return bool(self.requirements) or (install_project and self.is_package)

    def digest(self, base_image_id: str, target: dict[str, object], install_project: bool) -> str:
        """The cache key of the per-repo image built from this spec."""
        payload = {
            "recipe": 1,  # bump when the way the image is built changes
            "base": base_image_id,
            "target": target,
            "requirements": sorted(r.line for r in self.requirements),
            "constraints": sorted(r.line for r in self.constraints),
        }
        if install_project and self.is_package:
            payload["project"] = [self.project_name, sorted(self.build_requires)]
            payload["project_fingerprint"] = self.project_fingerprint
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def requirement_files(paths: set[str]) -> list[str]:
    found = []
    for path in sorted(paths):
        directory, name = posixpath.split(path)
        if not name.endswith(".txt") or "doc" in name.lower():
            continue
        if (directory == "" and "requirements" in name.lower()) or directory == "requirements":
            found.append(path)
    return found


# -- requirements files ------------------------------------------------------------


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines with backslash continuations joined and comments removed, numbered."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line:
            out.append((start, line))
    return out


def unusable_reason(line: str) -> str | None:
    """Why `line` cannot be installed from a wheelhouse, or None when it can."""
    spec = line.split(";", 1)[0].strip()
    if re.match(r"^(\.|/|~|file:)", spec) or spec.endswith((".tar.gz", ".zip", ".whl")):
        return "local paths and archives are not installed"
    if (
        re.match(r"^[a-z+]+://", spec, re.I)
        or re.match(r"^(git|hg|svn|bzr)\+", spec)
        or "@" in spec
    ):
        # A URL in the repository would make the host fetch from wherever it points.
        return "URL, VCS and direct references are not installed (only named packages)"
    if not NAME_RE.match(spec):
        return "not a requirement"
    return None


def read_requirements_file(
    tree: TreeReader, path: str, spec: DependencySpec, constraint: bool = False, depth: int = 0
) -> None:
    text = tree.read(path)
    if text is None:
        spec.skipped.append(f"{path}: not in the repository")
        return
    if path not in spec.sources:
        spec.sources.append(path)
    target = spec.constraints if constraint else spec.requirements
    for number, line in _logical_lines(text):
        where = f"{path}:{number}"
        option = line.split()[0].split("=", 1)[0]
        if option in ("-r", "--requirement", "-c", "--constraint"):
            rest = line[len(option) :].lstrip(" =").strip()
            include = posixpath.normpath(posixpath.join(posixpath.dirname(path), rest))
            if include.startswith("..") or depth >= MAX_INCLUDE_DEPTH:
                spec.skipped.append(f"{where}: {line} (outside the repository or nested too deep)")
                continue
            is_constraint = constraint or option in ("-c", "--constraint")
            read_requirements_file(tree, include, spec, is_constraint, depth + 1)
            continue
        if line.startswith("-"):
            reason = DROPPED_OPTIONS.get(option, "pip options in requirement files are not used")
            spec.skipped.append(f"{where}: {line} ({reason})")
            continue
        line = re.sub(r"\s--hash[= ]\S+", "", line).strip()
        why = unusable_reason(line)
        if why:
            spec.skipped.append(f"{where}: {line} ({why})")
            continue
        target.append(Requirement(line, where))
