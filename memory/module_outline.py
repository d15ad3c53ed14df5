"""A module's outline for the note writer: what the index knows about one file, plus
the first line of each docstring — SEAL's "passage", moved from prose to code.

The index (tree-sitter) gives definitions and signatures; docstrings are read with the
standard library's `ast` (parsing only, nothing is executed). Which test files exercise
a module comes from the test files' imports (`memory.tested_modules`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import TYPE_CHECKING

from memory.tested_modules import is_test_file

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex
    from tools.symbols import Definition

MAX_OUTLINE_CHARS = 1800
_SHOWN_KINDS = ("class", "function", "method")


@dataclass(frozen=True)
class ModuleOutline:
    path: str
    module: str | None
    text: str
    definitions: int


def docstrings(source: str) -> dict[str, str]:
    """Qualified name (`Money.parse`) → first line of its docstring; "" → the module's."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    out: dict[str, str] = {}

    def first_line(node: ast.AST) -> str | None:
        doc = ast.get_docstring(node)  # type: ignore[arg-type]
        return doc.strip().splitlines()[0].strip() if doc and doc.strip() else None

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = prefix + node.name
                line = first_line(node)
                if line:
                    out[name] = line
                if isinstance(node, ast.ClassDef):
                    walk(node.body, name + ".")

    module_doc = first_line(tree)
    if module_doc:
        out[""] = module_doc
    walk(tree.body, "")
    return out


def public(definition: Definition) -> bool:
    parts = definition.name.split(".")
    return not any(p.startswith("_") and not (p.startswith("__") and p.endswith("__"))
                   for p in parts) and not definition.short.startswith("__")  # fmt: skip


def outline(index: SymbolIndex, path: str, tested_by: list[str] | None = None,
            max_chars: int = MAX_OUTLINE_CHARS) -> ModuleOutline:  # fmt: skip
    """The outline of one Python file, cut at `max_chars` on a line boundary."""
    try:
        source = (index.root / path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        source = ""
    docs = docstrings(source)
    module = index.module_of(path)
    lines = [f"file: {path}" + (f"  (module `{module}`)" if module else "")]
    if docs.get(""):
        lines.append(f"  docstring: {docs['']}")
    shown = [d for d in index.definitions(path) if d.kind in _SHOWN_KINDS and public(d)]
    for d in shown:
        indent = "    " if d.parent else "  "
        signature = d.signature or f"{d.kind} {d.short}"
        doc = docs.get(d.name)
        lines.append(f"{indent}{signature}" + (f"  # {doc}" if doc else ""))
    if tested_by:
        lines.append("  tested in: " + ", ".join(tested_by))
    text = ""
    for line in lines:
        if len(text) + len(line) + 1 > max_chars:
            text += "  …\n"
            break
        text += line + "\n"
    return ModuleOutline(path=path, module=module, text=text.rstrip("\n"), definitions=len(shown))


def source_modules(index: SymbolIndex) -> list[str]:
    """Python files worth writing notes about: not tests, not empty, most definitions first
    (ties by path, so the order is stable)."""
    candidates = []
    for path in index.entries:
        if is_test_file(path) or path.endswith(("__main__.py", "conftest.py", "setup.py")):
            continue
        count = sum(1 for d in index.definitions(path) if d.kind in _SHOWN_KINDS and public(d))
        if count:
            candidates.append((-count, path))
    return [path for _, path in sorted(candidates)]
