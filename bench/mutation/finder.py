"""Find every mutation site of a Python file, for the eight kinds in `model.KINDS`.

Each site gets exactly one variant (the most plausible slip at that place, e.g. `<`
becomes `<=`, `n + 1` loses its `+ 1`), so "same site, same kind" never yields two
candidates. Code that tells nothing about behaviour is left alone: docstrings,
annotations, decorators, f-strings, asserts, `if __name__ == "__main__"` and
`if TYPE_CHECKING` blocks, module dunders (`__all__`, `__version__`).

Expression-level kinds live here; statement-level kinds (removed statements, changed
return values) in `statements.py`.
"""

from __future__ import annotations

import ast

from bench.mutation.model import Mutation
from bench.mutation.source import SourceText
from bench.mutation.statements import StatementSites

COMPARE: dict[type, tuple[bytes, str]] = {
    ast.Lt: (rb"<", "<="), ast.LtE: (rb"<=", "<"),
    ast.Gt: (rb">", ">="), ast.GtE: (rb">=", ">"),
    ast.Eq: (rb"==", "!="), ast.NotEq: (rb"!=", "=="),
    ast.Is: (rb"\bis\b", "is not"), ast.IsNot: (rb"\bis\s+not\b", "is"),
    ast.In: (rb"\bin\b", "not in"), ast.NotIn: (rb"\bnot\s+in\b", "in"),
}  # fmt: skip
ARITH: dict[type, tuple[bytes, str]] = {
    ast.Add: (rb"\+", "-"), ast.Sub: (rb"-", "+"), ast.Mult: (rb"\*", "/"),
    ast.Div: (rb"/", "*"), ast.FloorDiv: (rb"//", "/"), ast.Mod: (rb"%", "//"),
    ast.Pow: (rb"\*\*", "*"),
}  # fmt: skip
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
PUNCTUATION = {":": ";", ";": ":", ",": ";", ".": ",", "-": "_", "_": "-", " ": "", "": " "}
# Calls whose arguments are symmetric or whose swap is a type error, not a plausible bug.
NO_SWAP = frozenset({"print", "isinstance", "issubclass", "getattr", "setattr", "hasattr",
                     "super", "max", "min", "range", "type", "format"})  # fmt: skip
ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)


def int_value(node: ast.AST) -> int | None:
    """The value of an int literal (`3`, `-1`), None for anything else (bools included)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def is_stringy(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)
    )


class MutationFinder(ast.NodeVisitor):
    def __init__(self, path: str, data: bytes):
        self.path = path
        self.src = SourceText(data)
        self.found: list[Mutation] = []
        self.scope: list[str] = []
        self.claimed: set[int] = set()  # literal nodes already used by off_by_one / return_value
        self.docstrings: set[int] = set()
        self.statements = StatementSites(self)

    # -- emitting --------------------------------------------------------------

    def emit(self, kind: str, start: int, end: int, replacement: str, description: str) -> None:
        original = self.src.text(start, end)
        if original == replacement:
            return
        mutation = Mutation(
            kind=kind, file=self.path, start=start, end=end,
            line=self.src.line_of(start), end_line=self.src.line_of(max(start, end - 1)),
            original=original, replacement=replacement,
            function=".".join(self.scope) or "<module>", description=description,
        )  # fmt: skip
        self.found.append(mutation)

    def wrap(self, node: ast.AST) -> str:
        text = self.src.node_text(node)
        return text if isinstance(node, ATOMS) else f"({text})"

    # -- scopes and skipped code -----------------------------------------------

    def _mark_docstring(self, body: list[ast.stmt]) -> None:
        first = body[0] if body else None
        value = first.value if isinstance(first, ast.Expr) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            self.docstrings.add(id(value))

    def visit_Module(self, node: ast.Module) -> None:
        self._mark_docstring(node.body)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._mark_docstring(node.body)
        self.scope.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.scope.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._mark_docstring(node.body)
        for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d)]:
            self.visit(default)
        self.scope.append(node.name)
        self.statements.enter_function(node)
        for stmt in node.body:
            self.visit(stmt)
        self.statements.leave_function()
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.body)

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        if test in ("__name__ == '__main__'", "TYPE_CHECKING", "typing.TYPE_CHECKING"):
            return
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        return

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # positions inside f-strings are unreliable before Python 3.12

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        if not self.scope and any(n.startswith("__") and n.endswith("__") for n in names):
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        return

    visit_ImportFrom = visit_Import

    # -- comparison, off_by_one --------------------------------------------------

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            left, right = operands[i], operands[i + 1]
            pattern, new = COMPARE[type(op)]
            where = self.src.find_token(self.src.span(left)[1], self.src.span(right)[0], pattern)
            if where:
                old = self.src.text(*where)
                self.emit("comparison", *where, new, f"`{old}` → `{new}`")
            if isinstance(op, ORDERING):
                for operand in (left, right):
                    self.off_by_one(operand, "bound")
        self.generic_visit(node)

    def off_by_one(self, node: ast.AST, role: str) -> None:
        """`3` → `4` (`-1` → `-2`); `n + 1` → `n`; other stops `x` → `x - 1`, starts `x + 1`."""
        start, end = self.src.span(node)
        value = int_value(node)
        if value is not None:
            self.claimed.add(id(node))
            if isinstance(node, ast.UnaryOp):
                self.claimed.add(id(node.operand))
            new = str(value + 1 if value >= 0 else value - 1)
            self.emit("off_by_one", start, end, new, f"`{value}` → `{new}`")
            return
        if (
            isinstance(node, ast.BinOp)
            and isinstance(node.op, ast.Add | ast.Sub)
            and int_value(node.right) == 1
        ):
            self.claimed.add(id(node.right))
            new = self.src.node_text(node.left)
            self.emit("off_by_one", start, end, new, "dropped a `± 1`")
            return
        if role in ("stop", "start"):
            sign = "-" if role == "stop" else "+"
            new = f"{self.wrap(node)} {sign} 1"
            self.emit("off_by_one", start, end, new, f"{role} `{sign} 1`")

    def visit_Subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        if isinstance(index, ast.Slice):
            if index.lower is not None:
                self.off_by_one(index.lower, "start")
            if index.upper is not None:
                self.off_by_one(index.upper, "stop")
        elif int_value(index) is not None or isinstance(index, ast.BinOp):
            self.off_by_one(index, "index")
        self.generic_visit(node)

    # -- calls: off_by_one in range(), any/all, swapped arguments ---------------

    def visit_Call(self, node: ast.Call) -> None:
        name = node.func.id if isinstance(node.func, ast.Name) else None
        args = node.args
        starred = any(isinstance(a, ast.Starred) for a in args)
        if name == "range" and args and not starred:
            if len(args) == 1:
                self.off_by_one(args[0], "stop")
            else:
                self.off_by_one(args[0], "start")
                self.off_by_one(args[1], "stop")
        elif name == "enumerate" and len(args) == 2 and not starred:
            self.off_by_one(args[1], "start")
        if name in ("any", "all"):
            other = "all" if name == "any" else "any"
            self.emit("boolean_operator", *self.src.span(node.func), other, f"`{name}` → `{other}`")
        if len(args) >= 2 and not starred and name not in NO_SWAP:
            self.swap_arguments(node)
        self.generic_visit(node)

    def swap_arguments(self, node: ast.Call) -> None:
        for first, second in zip(node.args, node.args[1:], strict=False):
            a, b = self.src.node_text(first), self.src.node_text(second)
            if a == b:
                continue
            a_start, a_end = self.src.span(first)
            b_start, b_end = self.src.span(second)
            gap = self.src.text(a_end, b_start)
            callee = self.src.node_text(node.func)
            self.emit("swapped_arguments", a_start, b_end, f"{b}{gap}{a}",
                      f"swapped two arguments of `{callee}`")  # fmt: skip
            return

    # -- arithmetic, boolean operators ----------------------------------------

    def visit_BinOp(self, node: ast.BinOp) -> None:
        spec = ARITH.get(type(node.op))
        stringy = is_stringy(node.left) or is_stringy(node.right)
        sequence = isinstance(node.left, ast.List | ast.Tuple) or isinstance(
            node.right, ast.List | ast.Tuple
        )
        if spec and not stringy and not (isinstance(node.op, ast.Mult) and sequence):
            pattern, new = spec
            where = self.src.find_token(
                self.src.span(node.left)[1], self.src.span(node.right)[0], pattern
            )
            if where:
                old = self.src.text(*where)
                self.emit("arithmetic", *where, new, f"`{old}` → `{new}`")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        spec = ARITH.get(type(node.op))
        if spec and not is_stringy(node.value):
            pattern, new = spec
            where = self.src.find_token(
                self.src.span(node.target)[1], self.src.span(node.value)[0], pattern + rb"="
            )
            if where:
                old = self.src.text(*where)
                self.emit("arithmetic", *where, new + "=", f"`{old}` → `{new}=`")
        self.generic_visit(node)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        first, second = node.values[0], node.values[1]
        where = self.src.find_token(
            self.src.span(first)[1], self.src.span(second)[0], rb"\b" + old.encode() + rb"\b"
        )
        if where:
            self.emit("boolean_operator", *where, new, f"`{old}` → `{new}`")
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        if isinstance(node.op, ast.Not):
            start, end = self.src.span(node)
            rest = self.src.text(start, end)
            if rest.startswith("not"):
                self.emit("boolean_operator", start, end, rest[3:].lstrip(), "dropped a `not`")
        self.generic_visit(node)

    # -- constants ---------------------------------------------------------------

    def visit_Constant(self, node: ast.Constant) -> None:
        if id(node) in self.claimed or id(node) in self.docstrings:
            return
        value = node.value
        start, end = self.src.span(node)
        original = self.src.text(start, end)
        if isinstance(value, bool):
            new = str(not value)
        elif isinstance(value, int):
            new = {0: "1", 1: "0"}.get(value, str(value * 2))
        elif isinstance(value, float):
            new = repr(value * 2) if value else "1.0"
        elif isinstance(value, str) and value in PUNCTUATION and original[:1] in "'\"":
            quote = original[0]
            if original != f"{quote}{value}{quote}":
                return  # triple quotes, escapes: leave alone
            new = f"{quote}{PUNCTUATION[value]}{quote}"
        else:
            return
        self.emit("wrong_constant", start, end, new, f"`{original}` → `{new}`")

    # -- statements (see statements.py) -----------------------------------------

    def visit_Return(self, node: ast.Return) -> None:
        self.statements.return_value(node)
        self.generic_visit(node)

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt):
            self.statements.consider_removal(node)
        super().generic_visit(node)


def find_mutations(path: str, data: bytes) -> list[Mutation]:
    """All mutation sites of one file (empty if it does not parse)."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return []
    finder = MutationFinder(path, data)
    finder.visit(tree)
    return finder.found
