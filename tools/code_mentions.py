"""Mentions in code: Python blocks (tree-sitter), shell commands, diffs, and the agent's
text-protocol actions. The other half of tools.mentions, which dispatches here."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from tools.mentions import (
    IDENT,
    PATH_RE,
    SLASH_PATH_RE,
    Mention,
    Mentions,
    is_path,
)

if TYPE_CHECKING:  # pragma: no cover
    from tree_sitter import Node

# ---------------------------------------------------------------------- tool calls

# The agent's text protocol (tools.protocol): a fenced block named for the tool, with
# `key: value` lines first and the body after them.
TOOL_BLOCKS = frozenset({"view", "search", "edit", "create", "run_tests", "submit"})
_KEY_LINE = re.compile(r"^(\w+):[ \t]*(.*)$")
_SEARCH_REPLACE = re.compile(
    r"^<{5,}\s*SEARCH\s*\n(.*?)^={5,}\s*\n(.*?)^>{5,}\s*REPLACE", re.M | re.S
)


def from_tool_block(tool: str, body: str, offset: int, out: Mentions, exts: frozenset[str]) -> None:
    """What a tool call claims: `view`/`edit` need their path to exist; `create` makes
    one (and the code it writes may import things); an edit's REPLACE side is new code
    that may use what its SEARCH side binds. A `search` pattern is a question, not a
    claim."""
    lines = body.splitlines()
    keys: dict[str, str] = {}
    while lines and (m := _KEY_LINE.match(lines[0])) and m.group(1) not in ("http", "https"):
        keys[m.group(1)] = m.group(2).strip()
        lines.pop(0)
    rest = "\n".join(lines)
    path = keys.get("path", "")
    if tool == "create":
        if path:
            out.defined.add(path)
        if path.endswith(".py"):
            from_python(rest, offset, out, exts)
        return
    if path and tool in ("view", "edit") and path not in (".", "./"):
        out.add(Mention(path.rstrip("/"), "path", True, offset))
    if tool == "run_tests":
        for target in keys.get("tests", "").split():
            out.add(Mention(target.split("::", 1)[0].rstrip("/"), "path", True, offset))
    if tool == "edit" and path.endswith(".py"):
        for m in _SEARCH_REPLACE.finditer(rest):
            before = Mentions()
            from_python(m.group(1), offset, before, exts)
            out.defined |= before.defined  # the REPLACE side may use what SEARCH binds
            out.imported.update(before.imported)
            out.types.update(before.types)
            from_python(m.group(2), offset + m.start(2), out, exts)


# ---------------------------------------------------------------------- shell


_SHELL_WORD = re.compile(r"""[^\s'"|;&<>()]+""")


def from_shell(body: str, offset: int, out: Mentions, exts: frozenset[str]) -> None:
    """Paths a command line names (`cat src/x.py`, `pytest tests/test_x.py::test_y`),
    modules it runs (`python -m pkg.mod`), and files it creates (`> new.py`, `touch`)."""
    for line in body.splitlines():
        words = [(m.group(0), m.start(), m.end()) for m in _SHELL_WORD.finditer(line)]
        for i, (word, pos, _) in enumerate(words):
            prev = words[i - 1][0] if i else ""
            gap = line[words[i - 1][2] : pos] if i else line[:pos]
            target = word.split("::", 1)[0]
            if ">" in gap or prev in ("touch", "mkdir", "-o", "--output"):
                out.defined.add(target.rstrip("/"))
                continue
            if prev == "-m" and re.fullmatch(rf"{IDENT}(?:\.{IDENT})*", word):
                out.add(Mention(word, "import", True, offset + pos))
            elif is_path(target, exts) or (
                "/" in target and SLASH_PATH_RE.match(target) and not target.startswith("-")
            ):
                out.add(Mention(target.rstrip("/"), "path", True, offset + pos))


# ---------------------------------------------------------------------- python


def looks_python(body: str) -> bool:
    return bool(re.search(r"^\s*(?:def |class |import |from \S+ import |return\b|@\w)", body, re.M))


def diff_headers(body: str, offset: int, out: Mentions) -> None:
    """`--- a/x.py` / `+++ b/x.py`: the files a diff changes must exist — unless the
    old side is /dev/null (a new file)."""
    old: str | None = None
    for line in body.splitlines():
        if line.startswith("--- "):
            old = line[4:].split("\t", 1)[0].strip()
        elif line.startswith("+++ ") and old is not None:
            new = line[4:].split("\t", 1)[0].strip()
            new_path = new[2:] if new.startswith(("a/", "b/")) else new
            if old == "/dev/null":
                out.defined.add(new_path)
            elif new != "/dev/null":
                out.add(Mention(new_path, "path", True, offset))
            old = None


def strip_diff(body: str) -> str:
    """The new side of a diff (added and context lines)."""
    lines = []
    for line in body.splitlines():
        if line.startswith(("+++", "---", "@@", "diff ", "index ")):
            continue
        if line.startswith("-"):
            continue
        lines.append(line[1:] if line[:1] in "+ " else line)
    return "\n".join(lines)


@lru_cache(maxsize=1)
def _py_parser():
    import tree_sitter as ts
    import tree_sitter_python as tsp

    return ts.Parser(ts.Language(tsp.language()))


_BINDING_PARENTS = frozenset(
    {"parameters", "lambda_parameters", "typed_parameter", "default_parameter",
     "typed_default_parameter", "list_splat_pattern", "dictionary_splat_pattern",
     "pattern_list", "tuple_pattern", "list_pattern", "as_pattern_target",
     "global_statement", "nonlocal_statement"}
)  # fmt: skip


def from_python(code: str, offset: int, out: Mentions, exts: frozenset[str]) -> None:
    """Mentions in Python code (tree-sitter: tolerant of fragments and syntax errors)."""
    source = _dedent(code).encode("utf-8")
    root = _py_parser().parse(source).root_node

    def text(node: Node | None) -> str:
        return source[node.start_byte : node.end_byte].decode("utf-8", "replace") if node else ""

    stack = [root]
    loads: list[Node] = []
    while stack:
        node = stack.pop()
        kind = node.type
        if kind in ("function_definition", "class_definition"):
            out.defined.add(text(node.child_by_field_name("name")))
        elif kind == "import_statement":
            _py_import(node, text, offset, out)
            continue
        elif kind == "import_from_statement":
            _py_from_import(node, text, offset, out)
            continue
        elif kind == "identifier":
            parent = node.parent
            ptype = parent.type if parent is not None else ""
            if _binds(node, parent, ptype):
                out.defined.add(text(node))
                typed = _type_source(node, parent, ptype, text)
                if typed is not None:
                    out.types[text(node)] = typed
            else:
                loads.append(node)
        elif kind in ("string", "comment"):
            for m in PATH_RE.finditer(text(node)):
                if m.group(2).lower() in exts and "/" in m.group(1):
                    out.add(Mention(m.group(1), "path", True, offset + node.start_byte))
            continue
        stack.extend(reversed(node.children))

    for node in loads:
        parent = node.parent
        ptype = parent.type if parent is not None else ""
        name = text(node)
        if ptype == "attribute" and parent.child_by_field_name("attribute") == node:
            continue  # the `.b` of `a.b`: handled with its chain
        if ptype == "attribute":  # `a` of `a.b.c`: take the whole chain
            chain = parent
            while chain.parent is not None and chain.parent.type == "attribute":
                chain = chain.parent
            dotted = text(chain)
            called = chain.parent is not None and chain.parent.type == "call"
            if not re.fullmatch(rf"{IDENT}(?:\.{IDENT})+", dotted):
                continue
            if name in ("self", "cls"):
                member = dotted.split(".")[1]
                if called and dotted.count(".") == 1:
                    out.add(
                        Mention(member, "self_call", True, offset + node.start_byte, called=True)
                    )
                continue
            out.add(Mention(dotted, "dotted", True, offset + node.start_byte, called=called))
        elif ptype == "call" and parent.child_by_field_name("function") == node:
            out.add(Mention(name, "call", True, offset + node.start_byte, called=True))
        elif name[:1].isupper() and not name.isupper():
            out.add(Mention(name, "class", True, offset + node.start_byte))


def _type_source(node: Node, parent: Node, ptype: str, text) -> str | None:
    """Where a bound name's type can be read: `x = Name(…)` / `x = func(…)` → the
    callee (`Name`, `func`); `x: T` / parameter `x: T` → `T`. Only plain names."""
    annotation = None
    if ptype in ("typed_parameter", "typed_default_parameter", "assignment"):
        annotation = parent.child_by_field_name("type")
    if annotation is not None and re.fullmatch(rf"{IDENT}(?:\.{IDENT})*", text(annotation)):
        return text(annotation)
    if ptype == "assignment" and parent.child_by_field_name("left") == node:
        right = parent.child_by_field_name("right")
        if right is not None and right.type == "call":
            callee = text(right.child_by_field_name("function"))
            if re.fullmatch(rf"{IDENT}(?:\.{IDENT})*", callee):
                return callee + "()"
    return None


def _binds(node: Node, parent: Node | None, ptype: str) -> bool:
    if parent is None:
        return False
    if ptype in _BINDING_PARENTS:
        return True
    if ptype in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return parent.child_by_field_name("left") == node
    if ptype == "named_expression":
        return parent.child_by_field_name("name") == node
    if ptype == "keyword_argument":
        return parent.child_by_field_name("name") == node  # a parameter name, not a use
    if ptype in ("as_pattern", "except_clause", "with_item"):
        return node.prev_sibling is not None and node.prev_sibling.type == "as"
    return False


def _py_import(node: Node, text, offset: int, out: Mentions) -> None:
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            module = text(child.child_by_field_name("name"))
            bound = text(child.child_by_field_name("alias"))
            out.imported[bound] = module
        else:
            module = text(child)
            out.imported[module.split(".", 1)[0]] = module.split(".", 1)[0]
        out.defined.add(bound if child.type == "aliased_import" else module.split(".", 1)[0])
        out.add(Mention(module, "import", True, offset + node.start_byte))


def _py_from_import(node: Node, text, offset: int, out: Mentions) -> None:
    target = node.child_by_field_name("module_name")
    module = text(target)
    if target is not None and target.type == "relative_import":
        # Relative to a file the text does not name: the names are bound, not checked.
        for child in node.children_by_field_name("name"):
            out.defined.add(text(child.child_by_field_name("alias") or child))
        return
    out.add(Mention(module, "import", True, offset + node.start_byte))
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            name = text(child.child_by_field_name("name"))
            bound = text(child.child_by_field_name("alias"))
        else:
            name = bound = text(child)
        out.imported[bound] = f"{module}.{name}"
        out.defined.add(bound)
        out.add(Mention(name, "from_import", True, offset + node.start_byte, context=module))


def _dedent(code: str) -> str:
    lines = code.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents) if indents else 0
    return "\n".join(line[cut:] for line in lines)
