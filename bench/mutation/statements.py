"""Statement-level mutation sites inside functions: removed statements, changed returns.

Removed statements are the slips a reviewer misses: an update (`total += x`,
`self.count = n`, `items.append(x)`), a `raise`, or a guard clause (`if x is None:
return`). An assignment to a plain name is removed only when the name was already
bound before it (a parameter or an earlier assignment): otherwise the "bug" is an
`UnboundLocalError` that names the culprit. A statement that is alone in its block
becomes `pass`.

Changed returns: `True` ↔ `False`, `0` ↔ `1`, a condition negated, a `not` dropped,
a pair's order swapped, anything else `None`. Generators are left alone.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.mutation.finder import MutationFinder

_JUMPS = (ast.Raise, ast.Return, ast.Continue, ast.Break)
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _own_nodes(node: ast.AST):
    """Nodes of a function body, not descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, _NESTED):
            stack.extend(ast.iter_child_nodes(child))


@dataclass
class _Frame:
    parents: dict[int, list[ast.stmt]] = field(default_factory=dict)
    params: set[str] = field(default_factory=set)
    bindings: dict[str, int] = field(default_factory=dict)  # name → first line bound
    generator: bool = False


def _bodies(stmt: ast.stmt):
    for name in ("body", "orelse", "finalbody"):
        block = getattr(stmt, name, None)
        if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
            yield block
    for handler in getattr(stmt, "handlers", []) or []:
        yield handler.body
    for case in getattr(stmt, "cases", []) or []:
        yield case.body


class StatementSites:
    def __init__(self, finder: MutationFinder):
        self.finder = finder
        self.frames: list[_Frame] = []

    def enter_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        frame = _Frame()
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                frame.params.add(arg.arg)
        pending = [node.body]
        while pending:
            block = pending.pop()
            for stmt in block:
                frame.parents[id(stmt)] = block
                if not isinstance(stmt, _NESTED):
                    pending.extend(_bodies(stmt))
        for child in _own_nodes(node):
            if isinstance(child, ast.Yield | ast.YieldFrom):
                frame.generator = True
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                line = frame.bindings.get(child.id)
                frame.bindings[child.id] = min(line or child.lineno, child.lineno)
        self.frames.append(frame)

    def leave_function(self) -> None:
        self.frames.pop()

    # -- removed statements ------------------------------------------------------

    def _removable(self, stmt: ast.stmt, frame: _Frame) -> bool:
        if isinstance(stmt, ast.AugAssign | ast.Raise):
            return True
        if isinstance(stmt, ast.Expr):
            return isinstance(stmt.value, ast.Call)
        if isinstance(stmt, ast.If):
            return not stmt.orelse and len(stmt.body) == 1 and isinstance(stmt.body[0], _JUMPS)
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                if isinstance(target, ast.Attribute | ast.Subscript):
                    continue
                if not isinstance(target, ast.Name):
                    return False
                first = frame.bindings.get(target.id)
                if target.id not in frame.params and (first is None or first >= stmt.lineno):
                    return False
            return True
        return False

    def consider_removal(self, stmt: ast.stmt) -> None:
        if not self.frames:
            return
        frame = self.frames[-1]
        block = frame.parents.get(id(stmt))
        if block is None or not self._removable(stmt, frame):
            return
        src = self.finder.src
        start, end = src.span(stmt)
        if not src.alone_on_lines(start, end):
            return
        first_line = src.text(start, end).splitlines()[0].strip()
        description = f"removed `{first_line[:60]}`"
        if len(block) == 1:
            self.finder.emit("removed_statement", start, end, "pass", description)
        else:
            line_start, line_end = src.line_bounds(stmt.lineno, stmt.end_lineno or stmt.lineno)
            self.finder.emit("removed_statement", line_start, line_end, "", description)

    # -- changed return values ---------------------------------------------------

    def return_value(self, node: ast.Return) -> None:
        if not self.frames or self.frames[-1].generator or node.value is None:
            return
        finder, src, value = self.finder, self.finder.src, node.value
        start, end = src.span(value)
        old = src.text(start, end)
        if isinstance(value, ast.Constant):
            finder.claimed.add(id(value))
            if isinstance(value.value, bool):
                new = str(not value.value)
            elif type(value.value) is int:
                new = "1" if value.value == 0 else "0"
            else:
                return  # None, strings, floats: nothing plausible to change
        elif isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
            new = old[3:].lstrip() if old.startswith("not") else ""
            if not new:
                return
        elif isinstance(value, ast.Compare | ast.BoolOp):
            new = f"not ({old})"
        elif isinstance(value, ast.Tuple) and len(value.elts) == 2:
            a, b = value.elts
            if isinstance(a, ast.Starred) or isinstance(b, ast.Starred):
                return
            a_start, a_end = src.span(a)
            b_start, b_end = src.span(b)
            if src.text(a_start, a_end) == src.text(b_start, b_end):
                return
            swapped = src.text(b_start, b_end) + src.text(a_end, b_start) + src.text(a_start, a_end)
            finder.emit("return_value", a_start, b_end, swapped, "swapped the returned pair")
            return
        elif isinstance(value, ast.Lambda | ast.Yield | ast.YieldFrom | ast.Await):
            return
        else:
            new = "None"
        finder.emit("return_value", start, end, new, f"return `{old[:40]}` → `{new[:40]}`")
