"""What a repository declares it needs installed, read from one commit without running it.

Sources, all read from the git tree at a commit (never from a working directory, so the
answer is the same for every clone and unaffected by uncommitted junk):

- top-level `*requirements*.txt` and `requirements/*.txt` (not documentation ones),
  with `-r`/`-c` includes followed inside the repository;
- `pyproject.toml`: `[project] dependencies`, test extras, PEP 735 `[dependency-groups]`,
  Poetry's `[tool.poetry]` dependency tables, and `[build-system] requires`;
- `setup.cfg`: `[options] install_requires`/`tests_require` and test extras;
- `setup.py`: literal `install_requires`/`tests_require`/`extras_require` arguments of
  the `setup()` call, found with `ast` (the file is never executed).

Test extras are the ones named test/tests/testing; where there are none, dev/develop.
Lines that cannot be installed offline from wheels are dropped and listed in
`skipped` with the reason: editable or local-path requirements, URL, VCS and direct
references, and index options. Where packages come from is the host's pip
configuration's decision, not the repository's: a URL in a repository must not make
the host fetch from wherever it points.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import json
import re
import tomllib
from pathlib import Path

from sandboxes.gitcmd import GitError, git
from sandboxes.requirements import (
    NAME_RE,
    DependencySpec,
    Requirement,
    canonical_name,
    read_requirements_file,
    requirement_files,
    unusable_reason,
)

__all__ = ["DependencySpec", "Requirement", "canonical_name", "read_dependencies"]

TEST_EXTRAS = ("test", "tests", "testing")
DEV_EXTRAS = ("dev", "develop", "development")


# -- reading files from a commit ---------------------------------------------------


class _Tree:
    def __init__(self, repo: Path, rev: str):
        self.repo, self.rev = repo, rev
        listing = git(["ls-tree", "-r", "--name-only", "-z", rev], cwd=repo)
        self.paths = {p for p in listing.split("\0") if p}

    def read(self, path: str) -> str | None:
        if path not in self.paths:
            return None
        try:
            return git(["show", f"{self.rev}:{path}"], cwd=self.repo)
        except GitError:
            return None


# -- pyproject.toml ----------------------------------------------------------------


def _pick_extras(extras: dict[str, object]) -> list[str]:
    names = {canonical_name(k): k for k in extras}
    chosen = [names[n] for n in TEST_EXTRAS if n in names]
    return chosen or [names[n] for n in DEV_EXTRAS if n in names]


def _expand_self(
    lines: list[str], project: str | None, extras: dict[str, list[str]], seen: set[str]
) -> list[str]:
    """Replace `project[a,b]` (a project depending on its own extras) by those extras."""
    out: list[str] = []
    for line in lines:
        match = NAME_RE.match(line)
        if project and match and canonical_name(match.group(1)) == canonical_name(project):
            for extra in (match.group(2) or "").split(","):
                extra = extra.strip()
                if extra and extra not in seen and extra in extras:
                    seen.add(extra)
                    out += _expand_self(list(extras[extra]), project, extras, seen)
            continue
        out.append(line)
    return out


def _poetry_constraint(name: str, value: object) -> str | None:
    """A Poetry dependency entry as a PEP 508 line, or None when it is not a named wheel."""
    if isinstance(value, list):  # multiple-constraint form: take the first
        value = value[0] if value else "*"
    extras = ""
    if isinstance(value, dict):
        if any(key in value for key in ("path", "git", "url")) or value.get("optional"):
            return None
        if value.get("extras"):
            extras = "[" + ",".join(value["extras"]) + "]"
        value = value.get("version", "*")
    text = str(value).strip()
    if text in ("", "*"):
        return name + extras
    parts = []
    for piece in text.split(","):
        piece = piece.strip()
        caret = re.match(r"^\^(\d+)(?:\.(\d+))?(?:\.(\d+))?", piece)
        tilde = re.match(r"^~(?!=)(\d+)(?:\.(\d+))?(?:\.(\d+))?", piece)
        if caret:
            nums = [int(n) if n else 0 for n in caret.groups()]
            given = piece[1:]
            first = next((i for i, n in enumerate(nums) if n), len(nums) - 1)
            upper = nums[: first + 1]
            upper[-1] += 1
            parts.append(f">={given},<{'.'.join(map(str, upper))}")
        elif tilde:
            nums = [int(n) for n in tilde.groups() if n]
            given = piece[1:]
            upper = [nums[0] + 1] if len(nums) == 1 else [nums[0], nums[1] + 1]
            parts.append(f">={given},<{'.'.join(map(str, upper))}")
        elif re.match(r"^\d", piece):
            parts.append(f"=={piece}")
        else:
            parts.append(piece)
    return name + extras + ",".join(parts)


def read_pyproject(tree: _Tree, spec: DependencySpec) -> dict:
    text = tree.read("pyproject.toml")
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        spec.skipped.append(f"pyproject.toml: not valid TOML ({exc})")
        return {}
    spec.sources.append("pyproject.toml")
    project = data.get("project") or {}
    name = project.get("name")
    extras = {k: list(v) for k, v in (project.get("optional-dependencies") or {}).items()}
    lines = list(project.get("dependencies") or [])
    for extra in _pick_extras(extras):
        lines += extras[extra]
    groups = data.get("dependency-groups") or {}
    for group in _pick_extras(groups):
        for item in groups[group]:
            if isinstance(item, str):
                lines.append(item)
            elif isinstance(item, dict) and item.get("include-group") in groups:
                lines += [i for i in groups[item["include-group"]] if isinstance(i, str)]
    for line in _expand_self(lines, name, extras, set()):
        why = unusable_reason(line)
        if why:
            spec.skipped.append(f"pyproject.toml: {line} ({why})")
        else:
            spec.requirements.append(Requirement(line.strip(), "pyproject.toml"))
    poetry = (data.get("tool") or {}).get("poetry") or {}
    if poetry:
        tables = [poetry.get("dependencies") or {}, poetry.get("dev-dependencies") or {}]
        poetry_groups = poetry.get("group") or {}
        for group in _pick_extras(poetry_groups):
            tables.append((poetry_groups[group] or {}).get("dependencies") or {})
        for table in tables:
            for dep, value in table.items():
                if dep.lower() == "python":
                    continue
                line = _poetry_constraint(dep, value)
                if line is None:
                    spec.skipped.append(f"pyproject.toml [tool.poetry]: {dep} (not a named wheel)")
                else:
                    spec.requirements.append(Requirement(line, "pyproject.toml [tool.poetry]"))
        name = name or poetry.get("name")
    build = data.get("build-system") or {}
    if name or build:
        spec.project_name = name or spec.project_name
        spec.build_requires = list(build.get("requires") or ["setuptools>=61", "wheel"])
    return data


# -- setup.cfg and setup.py --------------------------------------------------------


def read_setup_cfg(tree: _Tree, spec: DependencySpec) -> None:
    text = tree.read("setup.cfg")
    if text is None:
        return
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        spec.skipped.append(f"setup.cfg: cannot be parsed ({exc})")
        return
    spec.sources.append("setup.cfg")
    lines: list[str] = []
    if parser.has_section("options"):
        for key in ("install_requires", "tests_require"):
            lines += [
                ln for ln in parser.get("options", key, fallback="").splitlines() if ln.strip()
            ]
    if parser.has_section("options.extras_require"):
        extras = {
            k: parser.get("options.extras_require", k)
            for k in parser.options("options.extras_require")
        }
        for extra in _pick_extras(extras):
            lines += [ln for ln in extras[extra].splitlines() if ln.strip()]
    for line in lines:
        line = re.sub(r"\s#.*$", "", line).strip()
        why = unusable_reason(line)
        if why:
            spec.skipped.append(f"setup.cfg: {line} ({why})")
        elif line and not line.startswith("#"):
            spec.requirements.append(Requirement(line, "setup.cfg"))
    if parser.has_section("metadata") and parser.has_option("metadata", "name"):
        spec.project_name = spec.project_name or parser.get("metadata", "name")


def _literal(node: ast.AST, names: dict[str, ast.AST]) -> object:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, names), _literal(node.right, names)
        if isinstance(left, list) and isinstance(right, list):
            return left + right
    return ast.literal_eval(node)


def read_setup_py(tree: _Tree, spec: DependencySpec) -> None:
    text = tree.read("setup.py")
    if text is None:
        return
    spec.sources.append("setup.py")
    try:
        module = ast.parse(text)
    except SyntaxError as exc:
        spec.skipped.append(f"setup.py: cannot be parsed ({exc.msg})")
        return
    # Module-level `NAME = [...]` assignments, so `install_requires=REQUIRES` resolves.
    names: dict[str, ast.AST] = {}
    for stmt in module.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target = stmt.targets[0]
            if isinstance(target, ast.Name):
                names[target.id] = stmt.value
    for node in ast.walk(module):
        if not (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup"
        ):
            continue
        for keyword in node.keywords:
            if keyword.arg not in ("install_requires", "tests_require", "extras_require", "name"):
                continue
            try:
                value = _literal(keyword.value, names)
            except (ValueError, TypeError, SyntaxError):
                spec.skipped.append(
                    f"setup.py: {keyword.arg} is computed, not a literal (not read)"
                )
                continue
            if keyword.arg == "name" and isinstance(value, str):
                spec.project_name = spec.project_name or value
            elif keyword.arg == "extras_require" and isinstance(value, dict):
                for extra in _pick_extras(value):
                    items = value[extra]
                    spec.requirements += [
                        Requirement(i, "setup.py")
                        for i in ([items] if isinstance(items, str) else items)
                    ]
            elif isinstance(value, list | tuple):
                spec.requirements += [Requirement(str(i), "setup.py") for i in value]
    spec.project_name = spec.project_name or "(setup.py)"


# -- entry point -------------------------------------------------------------------


def _fingerprint(tree: _Tree, pyproject: dict) -> str:
    """What the editable install of the project depends on: packaging metadata only."""
    digest = hashlib.sha256()
    relevant = {key: pyproject.get(key) for key in ("project", "build-system")}
    tool = pyproject.get("tool") or {}
    relevant["tool"] = {
        k: tool[k] for k in ("setuptools", "hatch", "flit", "pdm", "poetry") if k in tool
    }
    digest.update(json.dumps(relevant, sort_keys=True, default=str).encode())
    for path in ("setup.cfg", "setup.py"):
        digest.update((tree.read(path) or "").encode())
    return digest.hexdigest()


def read_dependencies(repo: Path, rev: str = "HEAD") -> DependencySpec:
    """Everything `repo` declares at `rev`. Raises GitError if `rev` does not exist."""
    tree = _Tree(repo, rev)
    spec = DependencySpec()
    for path in requirement_files(tree.paths):
        if path not in spec.sources:  # already read through another file's -r
            read_requirements_file(tree, path, spec)
    pyproject = read_pyproject(tree, spec)
    read_setup_cfg(tree, spec)
    read_setup_py(tree, spec)
    if spec.is_package and not spec.build_requires:
        spec.build_requires = ["setuptools>=61", "wheel"]
    # The project itself is installed separately (editable); drop self-references.
    if spec.project_name:
        own = canonical_name(spec.project_name)
        kept = []
        for req in spec.requirements:
            match = NAME_RE.match(req.line)
            if match and canonical_name(match.group(1)) == own:
                continue
            kept.append(req)
        spec.requirements = kept
    unique: dict[str, Requirement] = {}
    for req in spec.requirements:
        unique.setdefault(req.line, req)
    spec.requirements = list(unique.values())
    spec.project_fingerprint = _fingerprint(tree, pyproject) if spec.is_package else ""
    return spec
