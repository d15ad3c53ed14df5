"""Lookup tables over an index: which module a file is, where each name is defined,
which directories exist, which modules come from outside the repository.

Derived, never persisted: rebuilt from the per-file parses whenever an index is built,
because module names and import targets depend on the whole file set, not on one file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tools.symbols import Definition, FileSymbols

PYTHON_SUFFIXES = (".py", ".pyi")
_IDENT = re.compile(r"^[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Symbol:
    """Something the repository has: a module, or a definition inside one."""

    path: str
    kind: str  # module | class | function | method | variable | attribute
    name: str = ""  # qualified within the module; "" for the module itself
    line: int | None = None
    module: str | None = None

    @property
    def location(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where} ({self.name})" if self.name else where


def module_names(paths: Iterable[str]) -> dict[str, list[str]]:
    """File → dotted module names, primary first. The primary name climbs through
    directories holding an `__init__.py` (so `src/ledger/money.py` is `ledger.money`);
    longer names up to the full path are aliases (namespace packages, `tests.test_x`)."""
    path_list = [p for p in paths if p.endswith(PYTHON_SUFFIXES)]
    init_dirs = {
        p.rsplit("/", 1)[0] for p in path_list if p.endswith(("/__init__.py", "/__init__.pyi"))
    }
    names: dict[str, list[str]] = {}
    for rel in path_list:
        parts = rel.rsplit(".", 1)[0].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not parts or not _IDENT.match(parts[-1]):
            continue
        dirs = parts[:-1]
        # Climb while the directory above is a regular package (has an __init__.py).
        depth = 0
        while depth < len(dirs) and "/".join(dirs[: len(dirs) - depth]) in init_dirs:
            depth += 1
        result = []
        for start in range(len(parts) - 1 - depth, -1, -1):
            segments = parts[start:]
            if not all(_IDENT.match(x) for x in segments):
                break
            result.append(".".join(segments))
        if result:
            names[rel] = result
    return names


def declared_dependencies(root: Path) -> set[str]:
    """Import-name guesses for the dependencies a repo declares (pyproject, requirements).
    A guess (`python-dateutil` → `dateutil`): only used to avoid calling them missing."""
    raw: list[str] = []
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and not pyproject.is_symlink():  # never follow a planted link
        import tomllib

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
            data = {}
        project = data.get("project", {}) if isinstance(data, dict) else {}
        raw.extend(project.get("dependencies", []) or [])
        for extra in (project.get("optional-dependencies", {}) or {}).values():
            raw.extend(extra or [])
    for req in root.glob("requirements*.txt"):
        if req.is_symlink():
            continue
        try:
            raw.extend(req.read_text(encoding="utf-8", errors="replace").splitlines())
        except OSError:
            continue
    names: set[str] = set()
    for line in raw:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", str(line))
        if match and not str(line).lstrip().startswith(("#", "-")):
            name = match.group(1).lower().replace("-", "_").replace(".", "_")
            names |= {name, name.removeprefix("python_"), name.removeprefix("py")}
    return names


@dataclass
class Catalog:
    paths: frozenset[str]
    dirs: frozenset[str]
    by_basename: dict[str, list[str]]
    dirs_by_basename: dict[str, list[str]]
    file_module: dict[str, str]  # primary dotted name
    module_files: dict[str, list[str]]  # every name (aliases too) → files
    by_short: dict[str, list[Symbol]]  # last name segment → definitions
    defs: dict[str, dict[str, Definition]]  # file → qualified name → definition
    vocabulary: frozenset[str]  # every identifier-like word the Python files use
    top_names: frozenset[str]  # first segments of the repo's module names
    external_tops: frozenset[str]  # top-level modules imported from outside the repo
    external_names: dict[str, str]  # a name the repo imports from outside → its origin

    @classmethod
    def of(cls, root: Path, paths: list[str], parses: Mapping[str, FileSymbols]) -> Catalog:
        dirs: set[str] = set()
        by_basename: dict[str, list[str]] = {}
        for rel in paths:
            by_basename.setdefault(rel.rsplit("/", 1)[-1], []).append(rel)
            parts = rel.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        dirs_by_basename: dict[str, list[str]] = {}
        for d in sorted(dirs):
            dirs_by_basename.setdefault(d.rsplit("/", 1)[-1], []).append(d)

        names = module_names(parses)
        file_module = {rel: mods[0] for rel, mods in names.items()}
        module_files: dict[str, list[str]] = {}
        for rel, mods in names.items():
            for mod in mods:
                module_files.setdefault(mod, []).append(rel)

        defs: dict[str, dict[str, Definition]] = {}
        by_short: dict[str, list[Symbol]] = {}
        vocabulary: set[str] = set()
        for rel, parse in parses.items():
            table = {}
            for d in parse.definitions:
                table[d.name] = d
                by_short.setdefault(d.short, []).append(
                    Symbol(rel, d.kind, d.name, d.line, file_module.get(rel))
                )
            defs[rel] = table
            vocabulary.update(parse.references)
            vocabulary.update(parse.attributes)
            vocabulary.update(parse.words)
            vocabulary.update(d.short for d in parse.definitions)

        tops = frozenset(m.split(".", 1)[0] for m in module_files)
        external: set[str] = set()
        external_names: dict[str, str] = {}
        for parse in parses.values():
            for ref in parse.imports:
                top = ref.module.split(".", 1)[0]
                if ref.level or not top or top in tops:
                    continue
                external.add(top)
                if ref.name and ref.name != "*":
                    external_names.setdefault(ref.bound, f"{ref.module}.{ref.name}")
                elif ref.name is None:
                    external_names.setdefault(ref.bound, ref.module if ref.alias else top)
        external |= declared_dependencies(root) - tops
        return cls(
            paths=frozenset(paths), dirs=frozenset(dirs), by_basename=by_basename,
            dirs_by_basename=dirs_by_basename, file_module=file_module,
            module_files=module_files, by_short=by_short, defs=defs,
            vocabulary=frozenset(vocabulary), top_names=tops,
            external_tops=frozenset(external), external_names=external_names,
        )  # fmt: skip
