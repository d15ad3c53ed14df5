"""Where a bug may be: a short ranked list of candidate functions, from evidence only.

The evidence is what a developer would look at first, all of it visible in the
repository and in the failing tests' output — never a task's known fix:

- locations in the failure messages and tracebacks outside test files (the function
  that raised is the strongest lead);
- the failing tests' own source: the functions and methods they call, operators they
  apply to the repository's classes (`a * b` calls `__mul__`), and the fixtures they use;
- names the problem statement mentions, and the words of the failing tests' names
  (`test_percent_used_rejects…` → `percent_used`);
- one hop down the call graph from those (a helper that the called function calls), at
  a discount, and the repository map's ranking of definitions in play as a tiebreak.

`rank_candidates` returns the candidates best first with the reasons that scored them.
The model then picks among the first few (the policy), so this list only has to
contain the right function, not to put it first.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex
    from tools.symbols import Definition
    from tools.types import TestOutcome

# path.py:LINE as pytest prints locations (`src/x.py:53: in f`, `(src/x.py:53)`).
_LOCATION = re.compile(r"(?P<path>[\w./-]+\.py):(?P<line>\d+)")
# CPython tracebacks: File "/workspace/src/x.py", line 53, in f
_FRAME = re.compile(r'File "(?P<path>[^"]+\.py)", line (?P<line>\d+)')
_BACKTICKED = re.compile(r"`([A-Za-z_][\w.]*)(?:\(\))?`")
_OPERATORS: dict[type, tuple[str, ...]] = {
    ast.Add: ("__add__", "__radd__"), ast.Sub: ("__sub__", "__rsub__"),
    ast.Mult: ("__mul__", "__rmul__"), ast.Div: ("__truediv__", "__rtruediv__"),
    ast.FloorDiv: ("__floordiv__",), ast.Mod: ("__mod__",), ast.Pow: ("__pow__",),
    ast.USub: ("__neg__",), ast.UAdd: ("__pos__",), ast.Invert: ("__invert__",),
    ast.Eq: ("__eq__",), ast.NotEq: ("__ne__", "__eq__"), ast.Lt: ("__lt__",),
    ast.LtE: ("__le__",), ast.Gt: ("__gt__",), ast.GtE: ("__ge__",),
    ast.In: ("__contains__",), ast.NotIn: ("__contains__",),
}  # fmt: skip
_BUILTIN_CALLS = {"abs": "__abs__", "len": "__len__", "str": "__str__", "repr": "__repr__",
                  "hash": "__hash__", "bool": "__bool__", "iter": "__iter__", "round": "__round__"}  # fmt: skip

W_RAISED = 4.0  # the innermost non-test location of a failure
W_FRAME = 2.0  # any other non-test traceback frame
W_TEST_CALL = 1.5  # called by name in a failing test (or one of its fixtures)
W_OPERATOR = 1.0  # an operator / builtin the test applies to a repository class
W_STATEMENT = 1.5  # named in the problem statement
W_TEST_NAME = 1.0  # spelled out in a failing test's name
W_CLASS_MEMBER = 0.2  # a method of a class the test uses
W_MESSAGE_NAME = 0.75  # a function's name appears in a failure message
W_NAME_PART = 0.5  # a test-name word is part of a function's name (`register` → `cmd_register`)
HOP = 0.35  # share passed down to the functions a candidate calls
MAX_TESTS = 8  # failing tests read for evidence


@dataclass
class Candidate:
    """A function or method that may hold the bug (JSON-able: it lives in policy state)."""

    path: str
    name: str  # qualified within its module: `Money.__mul__`
    start: int  # 1-based, first line (decorators included)
    end: int
    signature: str = ""
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Candidate:
        return cls(**data)

    @property
    def key(self) -> str:
        return f"{self.path}::{self.name}"


def is_test_path(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (
        any(p in ("tests", "test", "testing") for p in parts[:-1])
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
    )


def test_file_of(test_id: str) -> str | None:
    """The file of a pytest node id (`tests/test_x.py::…`) or a unittest id
    (`tests.test_x.TestX.test_y` → `tests/test_x.py` when that file exists later)."""
    head = test_id.split("::", 1)[0]
    if head.endswith(".py"):
        return head
    return None


def test_function_name(test_id: str) -> str:
    last = re.split(r"::|\.", test_id.split("[", 1)[0])[-1]
    return last


class _Evidence:
    def __init__(self, index: SymbolIndex):
        self.index = index
        self.scores: dict[str, float] = defaultdict(float)
        self.reasons: dict[str, list[str]] = defaultdict(list)
        self.defs: dict[str, tuple[str, Definition]] = {}
        self._functions: dict[str, list[tuple[str, Definition]]] = defaultdict(list)
        self._by_file: dict[str, list[Definition]] = {}
        for path in index.entries:
            if is_test_path(path):
                continue
            funcs = [d for d in index.definitions(path) if d.kind in ("function", "method")]
            self._by_file[path] = funcs
            for d in funcs:
                self._functions[d.short].append((path, d))
                self.defs[f"{path}::{d.name}"] = (path, d)

    def add(self, path: str, d: Definition, weight: float, reason: str) -> None:
        key = f"{path}::{d.name}"
        self.scores[key] += weight
        if reason not in self.reasons[key]:
            self.reasons[key].append(reason)

    def enclosing(self, path: str, line: int) -> Definition | None:
        best = None
        for d in self._by_file.get(path, []):
            if d.line <= line <= d.end_line and (best is None or d.line >= best.line):
                best = d  # the innermost (latest-starting) function around the line
        return best

    def named(self, short: str) -> list[tuple[str, Definition]]:
        return self._functions.get(short, [])

    def containing(self, word: str) -> list[tuple[str, Definition]]:
        """Functions whose name has `word` as one of its `_`-separated parts, not whole."""
        return [
            pair for short, pairs in self._functions.items()
            if short != word and word in short.strip("_").split("_") for pair in pairs
        ]  # fmt: skip

    def methods_of(self, cls: str) -> list[tuple[str, Definition]]:
        out = []
        for path, funcs in self._by_file.items():
            out += [(path, d) for d in funcs if d.parent == cls]
        return out


def _split_frame(frame: str) -> tuple[str, int]:
    path, _, line = frame.rpartition(":")
    return path, int(line) if line.isdigit() else 0


def _locations(text: str) -> list[tuple[str, int]]:
    found = [(m["path"], int(m["line"])) for m in _FRAME.finditer(text)]
    found += [(m["path"], int(m["line"])) for m in _LOCATION.finditer(text)]
    return found


def _source_of(index: SymbolIndex, path: str, d: Definition) -> str:
    try:
        lines = (index.root / path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    return "\n".join(lines[d.line - 1 : d.end_line])


def _test_definition(index: SymbolIndex, test_id: str) -> tuple[str, Definition] | None:
    path = test_file_of(test_id)
    name = test_function_name(test_id)
    if path is None:  # unittest id: find the module's file by its dotted name
        dotted = test_id.split("[", 1)[0].split(".")
        for cut in range(len(dotted) - 1, 0, -1):
            files = index.files_of_module(".".join(dotted[:cut]))
            if files:
                path = files[0]
                break
    if path is None:
        return None
    for d in index.definitions(path):
        if d.kind in ("function", "method") and d.short == name:
            return path, d
    return None


def _fixtures(index: SymbolIndex, test_path: str, params: Iterable[str]) -> list[tuple[str, Any]]:
    """Fixture functions named like the test's parameters, in its file or a conftest."""
    wanted = set(params)
    if not wanted:
        return []
    places = [test_path]
    parts = test_path.split("/")
    for i in range(len(parts) - 1, -1, -1):
        places.append("/".join([*parts[:i], "conftest.py"]))
    out = []
    for place in places:
        for d in index.definitions(place):
            if d.kind == "function" and d.short in wanted:
                out.append((place, d))
    return out


class _TestReader(ast.NodeVisitor):
    """Names a test calls and operators it applies, from its source."""

    def __init__(self) -> None:
        self.calls: set[str] = set()
        self.attributes: set[str] = set()
        self.operators: set[str] = set()
        self.names: set[str] = set()

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            self.calls.add(func.id)
            if func.id in _BUILTIN_CALLS:
                self.operators.add(_BUILTIN_CALLS[func.id])
        elif isinstance(func, ast.Attribute):
            self.calls.add(func.attr)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.attributes.add(node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.names.add(node.id)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.operators.update(_OPERATORS.get(type(node.op), ()))
        self.generic_visit(node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.operators.update(_OPERATORS.get(type(node.op), ()))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        for op in node.ops:
            self.operators.update(_OPERATORS.get(type(op), ()))
        self.generic_visit(node)


def _read_function(source: str) -> tuple[_TestReader, list[str]]:
    import textwrap

    reader = _TestReader()
    params: list[str] = []
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return reader, params
    for node in tree.body[:1]:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            params = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
            for stmt in node.body:
                reader.visit(stmt)
    return reader, params


def _classes_used(index: SymbolIndex, reader: _TestReader) -> set[str]:
    """Repository classes the test names (constructors, helpers returning them aside)."""
    out = set()
    for name in reader.names | reader.calls:
        for symbol in index.defined_as(name):
            if symbol.kind == "class" and not is_test_path(symbol.path):
                out.add(symbol.name)
    return out


def rank_candidates(
    index: SymbolIndex,
    failures: Sequence[TestOutcome],
    statement: str = "",
    limit: int = 12,
) -> list[Candidate]:
    """Functions and methods outside the tests that may hold the bug, best first."""
    ev = _Evidence(index)
    texts = [statement, *(f.message for f in failures)]
    # 1. Locations the failures point at: the runner's frames, else what the texts show.
    frame_lists = [[_split_frame(f) for f in outcome.frames] for outcome in failures]
    frame_lists += [_locations(text) for text in texts]
    for locations in frame_lists:
        innermost = None
        for raw, line in locations:
            rel = index.relative(raw)
            hits = index.find_paths(rel) if rel else []
            if not hits or is_test_path(hits[0]):
                continue
            d = ev.enclosing(hits[0], line)
            if d is not None:
                innermost = (hits[0], d)
                ev.add(hits[0], d, W_FRAME, f"in the traceback ({hits[0]}:{line})")
        if innermost is not None:
            ev.add(*innermost, W_RAISED - W_FRAME, "where the failure was raised")
    for text in texts[1:]:
        for word in set(re.findall(r"[A-Za-z_][A-Za-z0-9_]{3,}", text)):
            for path, d in ev.named(word):
                ev.add(path, d, W_MESSAGE_NAME, "named in a failure message")
    # 2. What the failing tests call.
    for outcome in list(failures)[:MAX_TESTS]:
        found = _test_definition(index, outcome.test_id)
        if found is None:
            continue
        test_path, test_def = found
        reader, params = _read_function(_source_of(index, test_path, test_def))
        sources = [reader]
        for fix_path, fixture in _fixtures(index, test_path, params):
            fixture_reader, _ = _read_function(_source_of(index, fix_path, fixture))
            sources.append(fixture_reader)
        share = 1.0 / max(1, min(len(failures), MAX_TESTS))
        for i, r in enumerate(sources):
            why = "called by a failing test" if i == 0 else "called by a fixture of a failing test"
            for name in r.calls | (r.attributes if i == 0 else set()):
                for path, d in ev.named(name):
                    ev.add(path, d, W_TEST_CALL * share, why)
        classes = _classes_used(index, reader)
        for cls in classes:
            for path, d in ev.methods_of(cls):
                if d.short in reader.operators:
                    ev.add(path, d, W_OPERATOR * share, f"an operator the test applies to {cls}")
                else:
                    ev.add(path, d, W_CLASS_MEMBER * share, f"a method of {cls}, used by the test")
        # Operators on values whose class the test does not name (made by a helper).
        for dunder in reader.operators:
            for path, d in ev.named(dunder):
                if d.parent not in classes:
                    ev.add(path, d, W_OPERATOR * share / 2, "an operator the test applies")
        # 3. The test's name spelled out: test_percent_used_rejects → percent_used.
        words = re.sub(r"^test_?", "", test_function_name(outcome.test_id)).split("_")
        for i in range(len(words)):
            for j in range(i + 1, min(len(words), i + 4) + 1):
                for path, d in ev.named("_".join(words[i:j])):
                    ev.add(path, d, W_TEST_NAME * share, "named in a failing test's name")
        for word in {w for w in words if len(w) >= 4}:
            for path, d in ev.containing(word):
                ev.add(path, d, W_NAME_PART * share, "its name shares a word with a failing test")
    # 4. Names the statement mentions.
    for name in set(_BACKTICKED.findall(statement)):
        for path, d in ev.named(name.rsplit(".", 1)[-1]):
            ev.add(path, d, W_STATEMENT, "named in the task")
    # 5. One hop down: what the leading candidates call.
    leaders = sorted(ev.scores.items(), key=lambda kv: -kv[1])[:limit]
    for key, score in leaders:
        path, d = ev.defs[key]
        reader, _ = _read_function(_source_of(index, path, d))
        for name in reader.calls:
            for callee_path, callee in ev.named(name):
                if f"{callee_path}::{callee.name}" != key:
                    ev.add(callee_path, callee, HOP * score, f"called by {d.name}")
    ranked = sorted(ev.scores.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    out = []
    for key, score in ranked:
        path, d = ev.defs[key]
        out.append(Candidate(path=path, name=d.name, start=d.line, end=d.end_line,
                             signature=d.signature, score=round(score, 4),
                             reasons=ev.reasons[key][:4]))  # fmt: skip
    return out
