"""Names a failed action was missing, read from its output — kept only when the
repository indeed lacks them.

A tool failure is the strongest hallucination label there is: the model used a name
and Python (or the shell) said it is not there. But not every such failure is a
hallucination: `NameError: name 'Money' is not defined` in a file that forgot an
import names something the repository *has*. So each name from the output is checked
against the index, and only names the repository lacks are returned.

Understood: NameError, AttributeError (module / object / type object), ImportError
(`cannot import name`), ModuleNotFoundError, FileNotFoundError and the shell's
`No such file or directory` in its usual spellings (cat, ls, sed, grep, python,
pytest's `file or directory not found` and `not found: path::test`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools.pynames import BUILTIN_NAMES, is_external_module
from tools.resolution import Resolver
from tools.types import NameCheck

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex

_Q = r"""['"‘’]"""
_NAME_ERROR = re.compile(rf"NameError: (?:global )?name {_Q}(\w+){_Q} is not defined")
_MODULE_ATTR = re.compile(
    rf"AttributeError: module {_Q}([\w.]+){_Q} has no attribute {_Q}(\w+){_Q}"
)
_OBJECT_ATTR = re.compile(
    rf"AttributeError: (?:type object )?{_Q}(\w+){_Q}(?: object)? has no attribute {_Q}(\w+){_Q}"
)
_CANNOT_IMPORT = re.compile(rf"ImportError: cannot import name {_Q}(\w+){_Q} from {_Q}([\w.]+){_Q}")
_NO_MODULE = re.compile(rf"(?:ModuleNotFoundError|ImportError): No module named {_Q}([\w.]+){_Q}")
_NO_FILE = [
    re.compile(rf"No such file or directory: {_Q}([^'\"‘’\n]+){_Q}"),
    re.compile(rf"can't open file {_Q}([^'\"‘’\n]+){_Q}"),
    re.compile(rf"cannot access {_Q}?([^'\"‘’\n:]+?){_Q}?: No such file or directory"),
    re.compile(
        r"^(?:[\w./-]+: )?(?:line \d+: )?(?:can't read )?([^\s:'\"]+): No such file or directory",
        re.M,
    ),
    re.compile(r"(?:file or directory|file) not found: (\S+)"),
    re.compile(rf"{_Q}?([\w./-]+\.\w+){_Q}? (?:does not exist|not found)\b"),
]
_PYTEST_NODE = re.compile(r"ERROR: not found: (\S+?)::([\w\[\]-]+)")


def missing_from_failure(output: str, index: SymbolIndex) -> list[NameCheck]:
    """Names `output` reports missing that the repository lacks (each name once)."""
    resolver = Resolver(index)
    found: dict[str, NameCheck] = {}

    def report(check: NameCheck | None) -> None:
        if check is not None and not check.exists and check.name not in found:
            found[check.name] = check

    for m in _NAME_ERROR.finditer(output):
        report(_bare_name(m.group(1), index))
    for m in _MODULE_ATTR.finditer(output):
        report(_dotted(f"{m.group(1)}.{m.group(2)}", resolver))
    for m in _OBJECT_ATTR.finditer(output):
        owner, attr = m.group(1), m.group(2)
        if owner == "module":
            continue
        result = resolver.class_member(owner, attr)
        if result.status == "missing":
            report(NameCheck(name=f"{owner}.{attr}", kind="method", exists=False))
    for m in _CANNOT_IMPORT.finditer(output):
        report(_dotted(f"{m.group(2)}.{m.group(1)}", resolver))
    for m in _NO_MODULE.finditer(output):
        report(_module(m.group(1), index, resolver))
    for pattern in _NO_FILE:
        for m in pattern.finditer(output):
            report(_path(m.group(1), index))
    for m in _PYTEST_NODE.finditer(output):
        report(_test_node(m.group(1), m.group(2), index))
    return list(found.values())


def _bare_name(name: str, index: SymbolIndex) -> NameCheck | None:
    if name in BUILTIN_NAMES or index.defined_as(name) or name in index.catalog.module_files:
        return None  # the repo has it: a missing import, not an invented name
    kind = "class" if name[:1].isupper() else "symbol"
    return NameCheck(name=name, kind=kind, exists=False)


def _dotted(name: str, resolver: Resolver) -> NameCheck | None:
    result = resolver.dotted(name)
    if result.status != "missing":
        return None
    parent = result.symbol
    kind = "method" if parent is not None and parent.kind == "class" else "symbol"
    if parent is not None and parent.kind == "module" and result.missing != name.rsplit(".", 1)[-1]:
        kind = "module"
    elif result.missing and result.missing[:1].isupper():
        kind = kind if kind == "method" else "class"
    return NameCheck(name=name, kind=kind, exists=False)


def _module(module: str, index: SymbolIndex, resolver: Resolver) -> NameCheck | None:
    result = resolver.dotted(module)
    if result.status == "found" and result.symbol is not None and result.symbol.kind == "module":
        return None  # the repo has it (a sys.path problem, not an invented module)
    top = module.split(".", 1)[0]
    if top not in index.top_packages and is_external_module(top, index.external_modules):
        return None  # a dependency that is not installed: an environment problem
    return NameCheck(name=module, kind="module", exists=False)


def _path(raw: str, index: SymbolIndex) -> NameCheck | None:
    raw = raw.strip().rstrip(".,;")
    rel = index.relative(raw)
    if rel is None or rel in ("", ".") or rel.startswith("../"):
        return None  # outside the repository: not a claim about it
    if index.has_path(rel) or index.find_paths(rel):
        return None
    return NameCheck(name=rel, kind="path", exists=False)  # as the repository spells it


def _test_node(path: str, test: str, index: SymbolIndex) -> NameCheck | None:
    rel = index.relative(path)
    if rel is None:
        return None
    if not index.has_path(rel):
        return NameCheck(name=path, kind="path", exists=False)
    base = test.split("[", 1)[0]
    names = {d.name for d in index.definitions(rel)} | {d.short for d in index.definitions(rel)}
    if base in names:
        return None
    return NameCheck(name=f"{rel}::{base}", kind="function", exists=False)
