"""Parse one Python file with tree-sitter into `FileSymbols` (tools.symbols).

`parse_python(source)` is a pure function of the bytes: it never looks at other files.
Parsing is not executing: nothing here imports or runs the code it reads, so it is
safe on any workspace. tree-sitter is imported lazily (convention: `engram --help`
stays instant).
"""

from __future__ import annotations

import builtins
import re
from collections import Counter
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tools.symbols import Definition, FileSymbols, ImportRef

if TYPE_CHECKING:  # pragma: no cover - types only
    from tree_sitter import Node, Parser

# Identifiers that say nothing about which other file a file depends on.
_NOISE = frozenset(dir(builtins)) | {"self", "cls", "_", "__name__", "__file__", "__all__"}
_COMPOUND = frozenset(
    {"if_statement", "try_statement", "with_statement", "elif_clause", "else_clause",
     "except_clause", "except_group_clause", "finally_clause"}
)  # fmt: skip
_MAX_SIGNATURE = 160
_MAX_VALUE = 48


# One pass over the tree collects every name and where it stands; Python then only
# sorts captures by position (walking the tree node by node in Python is ~5× slower).
_NAMES_QUERY = """
(identifier) @id
(string_content) @str
(attribute attribute: (identifier) @attr)
(parameters (identifier) @param)
(lambda_parameters (identifier) @param)
(default_parameter name: (identifier) @param)
(typed_parameter (identifier) @param)
(typed_default_parameter name: (identifier) @param)
(list_splat_pattern (identifier) @param)
(dictionary_splat_pattern (identifier) @param)
(keyword_argument name: (identifier) @param)
(import_statement) @import
(import_from_statement) @import
(assignment left: (attribute) @target)
"""


@lru_cache(maxsize=1)
def _parser() -> tuple[Parser, Any, Any]:
    import tree_sitter as ts
    import tree_sitter_python as tsp

    language = ts.Language(tsp.language())
    names = ts.Query(language, _NAMES_QUERY)
    return ts.Parser(language), names


def parse_python(source: bytes) -> FileSymbols:
    """Definitions, imports and references of one Python file. Never raises on bad code:
    tree-sitter recovers from syntax errors and `syntax_error` says so."""
    import tree_sitter as ts

    parser, names = _parser()
    tree = parser.parse(source)
    root = tree.root_node
    out = _Extractor(source)
    out.scan_block(root, prefix="", in_class=False)
    captures = ts.QueryCursor(names).captures(root)
    out.scan_self_attributes(captures.get("target", []))
    # Imports anywhere (inside functions too) are still this file's dependencies.
    for node in sorted(captures.get("import", []), key=lambda n: n.start_byte):
        if node.type == "import_statement":
            out.add_import(node)
        else:
            out.add_from_import(node)
    refs, attrs = out.references(captures)
    out.string_words(captures.get("str", []))
    return FileSymbols(
        definitions=out.definitions,
        imports=out.imports,
        references=refs,
        attributes=attrs,
        words=sorted(out.words - set(refs) - set(attrs)),
        syntax_error=root.has_error,
    )


class _Extractor:
    def __init__(self, source: bytes):
        self.src = source
        self.definitions: list[Definition] = []
        self.imports: list[ImportRef] = []
        self._seen: set[str] = set()
        self._def_name_ids: set[int] = set()  # start bytes of identifiers that name a def
        self.words: set[str] = set()

    def text(self, node: Node | None) -> str:
        if node is None:
            return ""
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def add(self, definition: Definition) -> None:
        # First binding wins (e.g. `try: def f… except: def f…`): its line is where a
        # reader looks first.
        if definition.name not in self._seen:
            self._seen.add(definition.name)
            self.definitions.append(definition)

    # ------------------------------------------------------------------ definitions

    def scan_block(self, block: Node, prefix: str, in_class: bool) -> None:
        """Module or class body: definitions bound in that scope, including those under
        `if`/`try`/`with` (conditional definitions are still definitions)."""
        for node in block.named_children:
            self.scan_statement(node, prefix, in_class, decorators=[], start=None)

    def scan_statement(
        self, node: Node, prefix: str, in_class: bool, decorators: list[str], start: int | None
    ) -> None:
        kind = node.type
        if kind == "decorated_definition":
            decos = [
                _decorator_name(self.text(d)) for d in node.named_children if d.type == "decorator"
            ]
            inner = node.child_by_field_name("definition")
            if inner is not None:
                self.scan_statement(inner, prefix, in_class, decos, node.start_point[0] + 1)
        elif kind == "function_definition":
            self.add_function(node, prefix, in_class, decorators, start)
        elif kind == "class_definition":
            self.add_class(node, prefix, decorators, start)
        elif kind == "expression_statement":
            for child in node.named_children:
                if child.type == "assignment":
                    self.add_assignment(child, prefix, in_class)
        elif kind == "type_alias_statement":
            left = node.child_by_field_name("left")
            for ident in _identifiers(left):
                self.add_variable(prefix + self.text(ident), node, in_class, ident)
        elif kind == "block":
            self.scan_block(node, prefix, in_class)
        elif kind in _COMPOUND:
            # Conditional definitions (`if TYPE_CHECKING:`, `try: … except ImportError:`)
            # are still definitions of this scope.
            for child in node.named_children:
                if child.type == "block" or child.type in _COMPOUND:
                    self.scan_statement(child, prefix, in_class, [], None)

    def add_function(
        self, node: Node, prefix: str, in_class: bool, decorators: list[str], start: int | None
    ) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None:
            return
        self._def_name_ids.add(name_node.start_byte)
        header_end = _header_end(node, body)
        self.add(
            Definition(
                name=prefix + self.text(name_node),
                kind="method" if in_class else "function",
                line=start or node.start_point[0] + 1,
                end_line=node.end_point[0] + 1,
                signature=_one_line(self.src[node.start_byte : header_end], header=True),
                decorators=decorators,
            )
        )

    def add_class(self, node: Node, prefix: str, decorators: list[str], start: int | None) -> None:
        name_node = node.child_by_field_name("name")
        body = node.child_by_field_name("body")
        if name_node is None:
            return
        self._def_name_ids.add(name_node.start_byte)
        supers = node.child_by_field_name("superclasses")
        bases = [
            self.text(arg)
            for arg in (supers.named_children if supers is not None else [])
            if arg.type not in ("keyword_argument", "comment")
        ]
        name = prefix + self.text(name_node)
        header_end = _header_end(node, body)
        self.add(
            Definition(
                name=name,
                kind="class",
                line=start or node.start_point[0] + 1,
                end_line=node.end_point[0] + 1,
                signature=_one_line(self.src[node.start_byte : header_end], header=True),
                bases=bases,
                decorators=decorators,
            )
        )
        if body is not None:
            self.scan_block(body, prefix=name + ".", in_class=True)

    def add_assignment(self, node: Node, prefix: str, in_class: bool) -> None:
        # `a = b = 1` nests assignments on the right; `a, b = …` has a pattern on the left.
        current: Node | None = node
        while current is not None and current.type == "assignment":
            for ident in _identifiers(current.child_by_field_name("left")):
                self.add_variable(prefix + self.text(ident), node, in_class, ident)
            current = current.child_by_field_name("right")

    def add_variable(self, name: str, stmt: Node, in_class: bool, ident: Node) -> None:
        self._def_name_ids.add(ident.start_byte)
        text = _one_line(self.src[stmt.start_byte : stmt.end_byte])
        if len(text) > _MAX_VALUE:
            text = text[: _MAX_VALUE - 1].rstrip() + "…"
        self.add(
            Definition(
                name=name,
                kind="attribute" if in_class else "variable",
                line=stmt.start_point[0] + 1,
                end_line=stmt.end_point[0] + 1,
                signature=text,
            )
        )

    def scan_self_attributes(self, targets: list[Node]) -> None:
        """`self.x = …` inside a method defines the instance attribute `Class.x`."""
        for target in targets:
            obj = target.child_by_field_name("object")
            attr = target.child_by_field_name("attribute")
            if obj is None or attr is None or obj.type != "identifier":
                continue
            func = _enclosing(obj, "function_definition")
            if func is None:
                continue
            params = func.child_by_field_name("parameters")
            first = (
                params.named_children[0] if params is not None and params.named_children else None
            )
            if first is None or first.type != "identifier" or self.text(first) != self.text(obj):
                continue
            owner = self._class_path(func)
            if owner is None:
                continue
            stmt = attr.parent.parent if attr.parent is not None else None
            if stmt is not None:
                self.add_variable(f"{owner}.{self.text(attr)}", stmt, True, attr)

    def _class_path(self, func: Node) -> str | None:
        """`A.B` for a method of class B nested in class A; None unless `func` is a method."""
        parent = func.parent
        if parent is not None and parent.type == "decorated_definition":
            parent = parent.parent
        if parent is None or parent.type != "block":
            return None
        cls = parent.parent
        if cls is None or cls.type != "class_definition":
            return None
        names = []
        node: Node | None = cls
        while node is not None:
            if node.type == "class_definition":
                names.append(self.text(node.child_by_field_name("name")))
            elif node.type == "function_definition":
                return None  # a class local to a function is not addressable
            node = node.parent
        return ".".join(reversed(names))

    # ------------------------------------------------------------------ imports

    def add_import(self, node: Node) -> None:
        for child in node.children_by_field_name("name"):
            if child.type == "aliased_import":
                module = self.text(child.child_by_field_name("name"))
                alias = self.text(child.child_by_field_name("alias")) or None
            else:
                module, alias = self.text(child), None
            if module:
                self.imports.append(ImportRef(module=module, alias=alias, line=_line(node)))

    def add_from_import(self, node: Node) -> None:
        target = node.child_by_field_name("module_name")
        level, module = 0, self.text(target)
        if target is not None and target.type == "relative_import":
            prefix = next((c for c in target.children if c.type == "import_prefix"), None)
            level = self.text(prefix).count(".")
            dotted = next((c for c in target.children if c.type == "dotted_name"), None)
            module = self.text(dotted)
        names = node.children_by_field_name("name")
        if any(c.type == "wildcard_import" for c in node.children):
            self.imports.append(ImportRef(module=module, level=level, name="*", line=_line(node)))
        for child in names:
            if child.type == "aliased_import":
                name = self.text(child.child_by_field_name("name"))
                alias = self.text(child.child_by_field_name("alias")) or None
            else:
                name, alias = self.text(child), None
            if name:
                self.imports.append(
                    ImportRef(module=module, level=level, name=name, alias=alias, line=_line(node))
                )

    # ------------------------------------------------------------------ references

    def references(self, captures: dict[str, list[Node]]) -> tuple[dict[str, int], dict[str, int]]:
        """(bare names used, names used after a dot), each with a use count."""
        params = {n.start_byte for n in captures.get("param", [])}
        attributes = {n.start_byte for n in captures.get("attr", [])}
        skip = self._def_name_ids
        bare: Counter[bytes] = Counter()
        dotted: Counter[bytes] = Counter()
        words: set[bytes] = set()
        src = self.src
        for node in captures.get("id", []):
            start = node.start_byte
            if start in skip:
                continue
            name = src[start : node.end_byte]
            if start in params:
                words.add(name)
            elif start in attributes:
                dotted[name] += 1
            else:
                bare[name] += 1
        self.words.update(w.decode("utf-8", "replace") for w in words)
        return _names(bare), _names(dotted)

    def string_words(self, nodes: list[Node]) -> None:
        for node in nodes:
            if node.end_byte - node.start_byte <= 200:  # long strings are prose or data
                self.words.update(_WORD.findall(self.text(node)))


def _names(counts: Counter[bytes]) -> dict[str, int]:
    out: dict[str, int] = {}
    for raw, count in counts.items():
        name = raw.decode("utf-8", "replace")
        if len(name) > 1 and name not in _NOISE:
            out[name] = count
    return out


def _header_end(node: Node, body: Node | None) -> int:
    """End of `def f(…) -> T:` — the colon before the body, so a comment after it is
    not part of the signature."""
    colon = None
    for child in node.children:
        if child.type == ":":
            colon = child
        if body is not None and child.start_byte >= body.start_byte:
            break
    if colon is not None:
        return colon.end_byte
    return body.start_byte if body is not None else node.end_byte


def _line(node: Node) -> int:
    return node.start_point[0] + 1


def _identifiers(node: Node | None) -> list[Node]:
    """Plain names bound by an assignment target (`a`, `a, b`, `(a, [b])`); attribute
    and subscript targets bind nothing new at this scope."""
    if node is None:
        return []
    if node.type == "identifier":
        return [node]
    if node.type in ("pattern_list", "tuple_pattern", "list_pattern", "type"):
        return [i for child in node.named_children for i in _identifiers(child)]
    return []


def _enclosing(node: Node, kind: str) -> Node | None:
    current = node.parent
    while current is not None and current.type != kind:
        current = current.parent
    return current


_WS = re.compile(r"\s+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")


def _one_line(raw: bytes, header: bool = False) -> str:
    text = _WS.sub(" ", raw.decode("utf-8", "replace")).strip()
    if header:  # a def/class header split over lines: drop the colon and the layout
        text = text.removesuffix(":").rstrip()
        text = text.replace("( ", "(").replace(", )", ")").replace(",)", ")").replace(" )", ")")
    if len(text) > _MAX_SIGNATURE:
        text = text[: _MAX_SIGNATURE - 1].rstrip() + "…"
    return text


def _decorator_name(text: str) -> str:
    """`@functools.lru_cache(maxsize=1)` → `functools.lru_cache`."""
    return text.lstrip("@").split("(", 1)[0].strip()
