"""Resolve a dotted name (`ledger.money.Money.parse`, `Money.parse`, `AccountTree`)
against a symbol index, the way Python would look it up — without running anything.

A module prefix is looked up first; the rest walks module bindings (definitions,
imports, re-exports, star imports, submodules) and class members (with inheritance
through repository classes, and through standard-library bases by inspecting the
standard library itself). The answer is one of:

- `found`: the repository has it (`symbol` says where; `external` is set when the
  member is inherited from a standard-library class such as `Exception.args`);
- `missing`: the lookup reached something in the repository that lacks the next name
  (`parent` is the deepest thing that resolved, `missing` the name it lacks);
- `external`: the name belongs to the standard library or a dependency, so it says
  nothing about the repository;
- `unknown`: the lookup cannot be decided statically (an attribute of a value, a class
  with a base from outside the repository, a module-level `__getattr__`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tools.catalog import Symbol
from tools.pynames import BUILTIN_NAMES, has_attribute, is_external_module, stdlib_object
from tools.symbols import Definition

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex

Status = Literal["found", "missing", "external", "unknown"]
_MAX_DEPTH = 12
_OBJECT_ATTRS = frozenset(dir(object))
_SUBSCRIPT = re.compile(r"\[.*$")


@dataclass(frozen=True)
class Resolution:
    status: Status
    symbol: Symbol | None = None  # found: the thing; missing: the deepest thing found
    missing: str | None = None  # missing: the first name that is not there
    external: str | None = None  # external (or inherited from outside): the dotted origin

    @property
    def found(self) -> bool:
        return self.status == "found"


_UNKNOWN = Resolution("unknown")


class Resolver:
    def __init__(self, index: SymbolIndex):
        self.index = index
        self.cat = index.catalog

    # ------------------------------------------------------------------ entry points

    def dotted(self, name: str) -> Resolution:
        """Resolve a name as written in a text: a module path first, then a top-level
        definition of the repository, then the standard library / dependencies."""
        parts = [p for p in name.strip().split(".") if p]
        if not parts:
            return _UNKNOWN
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if module in self.cat.module_files:
                return self.in_module(module, parts[cut:], 0)
        first = parts[0]
        tops = [s for s in self.cat.by_short.get(first, []) if s.name == first]
        if tops:
            # Prefer classes: `Money.parse` is about the class, not a same-named variable.
            tops.sort(key=lambda s: s.kind != "class")
            results = [
                self.member(s.path, self.cat.defs[s.path][s.name], parts[1:], 0) for s in tops
            ]
            return _best(results)
        if self.is_external(first):
            return Resolution("external", external=name)
        return _UNKNOWN

    def is_external(self, first: str) -> bool:
        return (
            first in BUILTIN_NAMES
            or first in self.cat.external_names
            or is_external_module(first, self.cat.external_tops)
        )

    def class_member(self, class_name: str, member: str) -> Resolution:
        """`Class.member` for a class known by its short name (any module)."""
        classes = [s for s in self.cat.by_short.get(class_name, []) if s.kind == "class"]
        if not classes:
            return _UNKNOWN
        return _best(
            [self.member(s.path, self.cat.defs[s.path][s.name], [member], 0) for s in classes]
        )

    # ------------------------------------------------------------------ walking

    def in_module(self, module: str, rest: list[str], depth: int) -> Resolution:
        files = self.cat.module_files.get(module, [])
        if not files:
            return Resolution("missing", missing=module)
        if not rest:
            path = files[0]
            return Resolution("found", Symbol(path, "module", "", None, module))
        if depth > _MAX_DEPTH:
            return _UNKNOWN
        return _best([self.in_file(path, module, rest, depth) for path in files])

    def in_file(self, path: str, module: str, rest: list[str], depth: int) -> Resolution:
        """`rest[0]` looked up among the module-level bindings of `path`, then `rest[1:]`."""
        name, tail = rest[0], rest[1:]
        defs = self.cat.defs.get(path, {})
        if name in defs:
            return self.member(path, defs[name], tail, depth + 1)
        sub = f"{module}.{name}"
        if sub in self.cat.module_files:
            return self.in_module(sub, tail, depth + 1)
        bound = self.imported(path, name, tail, depth)
        if bound is not None:
            return bound
        if "__getattr__" in defs:  # PEP 562: the module makes names up at run time
            return _UNKNOWN
        return Resolution("missing", Symbol(path, "module", "", None, module), missing=name)

    def imported(self, path: str, name: str, tail: list[str], depth: int) -> Resolution | None:
        """The resolution of `name` when `path` binds it by an import (or star import);
        None when no import binds it."""
        parse = self.index.symbols(path)
        if parse is None:
            return None
        # The last binding wins at run time.
        for ref in reversed(parse.imports):
            if ref.name == "*" or ref.bound != name:
                continue
            target = self.index.absolute_import(path, ref)
            if ref.name is None:  # `import a.b` binds `a`; `import a.b as c` binds a.b
                module = target if ref.alias else target.split(".", 1)[0]
                if module in self.cat.module_files:
                    return self.in_module(module, tail, depth + 1)
                return Resolution("external", external=".".join([module, *tail]))
            if target in self.cat.module_files:
                return self.in_module(target, [ref.name, *tail], depth + 1)
            if ref.level:  # relative import of a module the repo lacks
                return Resolution("missing", missing=target)
            return Resolution("external", external=".".join([target, ref.name, *tail]))
        for ref in parse.imports:
            if ref.name != "*":
                continue
            target = self.index.absolute_import(path, ref)
            if target in self.cat.module_files:
                found = self.in_module(target, [name, *tail], depth + 1)
                if found.status in ("found", "unknown", "external"):
                    return found
            elif not ref.level:
                return _UNKNOWN  # `from somewhere_else import *` could bind anything
        return None

    def member(self, path: str, definition: Definition, rest: list[str], depth: int) -> Resolution:
        module = self.cat.file_module.get(path)
        here = Symbol(path, definition.kind, definition.name, definition.line, module)
        if not rest:
            return Resolution("found", here)
        if depth > _MAX_DEPTH:
            return _UNKNOWN
        if definition.kind != "class":
            return _UNKNOWN  # an attribute of a value: its type is not known statically
        name, tail = rest[0], rest[1:]
        defs = self.cat.defs.get(path, {})
        qualified = f"{definition.name}.{name}"
        if qualified in defs:
            return self.member(path, defs[qualified], tail, depth + 1)
        undecided = False
        for base in definition.bases:
            inherited = self.inherited(path, module, base, rest, depth)
            if inherited.status == "found":
                return inherited
            undecided = undecided or inherited.status == "unknown"
        if name in _OBJECT_ATTRS:
            return Resolution("found", here, external=f"object.{name}")
        if undecided:
            return _UNKNOWN
        return Resolution("missing", here, missing=name)

    def inherited(
        self, path: str, module: str | None, base: str, rest: list[str], depth: int
    ) -> Resolution:
        """`rest` looked up on the class written as `base` in file `path`."""
        base = _SUBSCRIPT.sub("", base).strip()
        if not base or base == "object":
            return Resolution("missing")
        if "=" in base or "(" in base or base.startswith("*"):
            return _UNKNOWN  # metaclass=…, a call, *bases: not followed
        head, *more = base.split(".")
        resolved = (
            self.in_file(path, module, [head, *more], depth + 1) if module is not None else _UNKNOWN
        )
        if resolved.status == "found" and resolved.symbol is not None:
            sym = resolved.symbol
            if sym.kind == "class":
                return self.member(sym.path, self.cat.defs[sym.path][sym.name], rest, depth + 1)
            return _UNKNOWN
        origin = resolved.external if resolved.status == "external" else None
        if origin is None and resolved.status == "missing" and head in BUILTIN_NAMES and not more:
            origin = head  # `class E(Exception)`: a builtin, not bound by any import
        if origin is None:
            return _UNKNOWN
        obj = stdlib_object(origin)
        if obj is None:
            return _UNKNOWN  # a third-party base: its members cannot be listed
        for attr in rest:
            if not has_attribute(obj, attr):
                return Resolution("missing", missing=attr)
            obj = getattr(obj, attr, None)
        return Resolution("found", external=".".join([origin, *rest]))


_ORDER = {"found": 0, "unknown": 1, "external": 2, "missing": 3}


def _best(results: list[Resolution]) -> Resolution:
    """Across several candidates (two files with one module name, two classes with one
    name): found beats undecidable beats missing — a name is only called missing when
    no candidate could have it."""
    return min(results, key=lambda r: _ORDER[r.status]) if results else _UNKNOWN
