"""Find the names a text mentions that could be claims about a repository.

A text is a model's step (thought + action), a note it wrote, or a task statement. It
mixes prose, inline code (`backticks`) and fenced code blocks. This module only
*extracts*; tools.grounding decides which mentions are claims and checks them.

What counts as a mention, by shape:

- `path`: `src/ledger/money.py`, `money.py`, `tests/data/` (prose needs an extension
  or a slash inside backticks; bare words are never paths);
- `dotted`: `ledger.money`, `Money.parse`, `ledger.money.Money.split`;
- `call`: `parse_amount()`, `Money(...)` — a name immediately followed by `(`;
- `class`: CamelCase with two or more humps (`AccountTree`), or a capitalised name
  in code or next to the word "class";
- `identifier`: a single name in backticks, or a snake_case word in prose;
- `import` / `from_import`: the module and names of `import` lines in code;
- `self_call`: `self.name(...)` in code;
- `located`: "`X` is defined in `Y`" / "the `m` method of `C`" — a name *and* where it
  is claimed to be, checked together.

Names the text itself defines (functions and classes in its code, assignment targets,
parameters, imports, and things it says it will add/create) are collected in
`defined`: a text writing a new function is not claiming the repo has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from tree_sitter import Node

Shape = Literal[
    "path", "dotted", "call", "class", "identifier", "import", "from_import", "self_call",
    "located",
]  # fmt: skip

PATH_EXTENSIONS = frozenset(
    [
        "py",
        "pyi",
        "toml",
        "cfg",
        "ini",
        "txt",
        "md",
        "rst",
        "json",
        "yaml",
        "yml",
        "csv",
        "tsv",
        "sh",
        "bash",
        "lock",
        "in",
        "j2",
        "html",
        "css",
        "js",
        "ts",
        "c",
        "h",
        "cpp",
        "rs",
        "go",
        "java",
        "rb",
        "sql",
        "xml",
        "cfg",
        "env",
        "gitignore",
        "dockerfile",
    ]
)
_PY_LANGS = frozenset({"python", "py", "python3", "pycon", "ipython"})
_SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh", "terminal"})

_FENCE = re.compile(r"^[ \t]*(```+|~~~+)[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.M | re.S)
_INLINE = re.compile(r"`([^`\n]+)`")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH = re.compile(
    r"(?<![\w/.@:~$-])((?:\.{1,2}/|/)?(?:[\w.-]+/)*[\w-][\w.-]*\.([A-Za-z][\w]*))(?![\w/(-])"
)
_SLASH_PATH = re.compile(r"^(?:\.{1,2}/|/)?(?:[\w.-]+/)+[\w.-]*$")
_DOTTED = re.compile(rf"(?<![\w./-])({_IDENT}(?:\.{_IDENT})+)(\(?)")
_CALL = re.compile(rf"(?<![\w.])({_IDENT})\((?!s\)|es\))")
_CAMEL = re.compile(r"(?<![\w.])([A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+)(?!\w|\(|\.\w)")
_SNAKE = re.compile(r"(?<![\w./-])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![\w./(-])")
# UPPER_CASE with an underscore is a constant's name; a bare upper-case word (`API`,
# `EUR`, `TODO`) is too often just a word.
_CONSTANT = re.compile(r"(?<![\w./$-])([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)(?![\w./(=-])")
_ENVIRONMENT = """
    LC_ALL LC_CTYPE LD_LIBRARY_PATH LD_PRELOAD CUDA_VISIBLE_DEVICES PYTHONDONTWRITEBYTECODE
    PYTHONUNBUFFERED PIP_INDEX_URL HF_HOME HF_HUB_OFFLINE XDG_CONFIG_HOME XDG_CACHE_HOME
    GITHUB_TOKEN GITHUB_ACTIONS GITHUB_WORKSPACE GITHUB_OUTPUT HTTP_PROXY HTTPS_PROXY NO_PROXY
    SSL_CERT_FILE REQUESTS_CA_BUNDLE VIRTUAL_ENV UTF_8 ISO_8601 RFC_3339
"""
ENVIRONMENT_NAMES = frozenset(_ENVIRONMENT.split())
_CLASS_WORD = re.compile(rf"\bclass(?:es)?\s+`?({_IDENT})`?|`?\b([A-Z][A-Za-z0-9_]*)`?\s+class\b")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+")
_CREATE = re.compile(
    r"\b(?:add|adds|added|adding|create|creates|created|creating|introduce|introduces|"
    r"introducing|define|defines|defining|implement|implements|implementing|write|writes|"
    r"writing|new|rename\w*\s+\S+\s+to|called|named)\s+"
    r"(?:(?:a|an|the|new|helper|function|method|class|file|module|test|constant|field|"
    r"attribute|property|private|public|small|separate|dedicated|classmethod|"
    r"staticmethod|package|called|named|`)\s+)*`?$",
    re.I,
)
_LOCATED = re.compile(
    r"`([\w.]+)(?:\(\))?`\s+(?:is\s+|are\s+)?(?:defined|declared|implemented|lives?|located|"
    r"found|sits?|exists?)\s+in\s+(?:the\s+)?`([\w./-]+)`"
)
_METHOD_OF = re.compile(
    r"`(\w+)(?:\(\))?`\s+(?:method|attribute|property|classmethod)\s+(?:of|on|in)\s+"
    r"(?:the\s+)?`?([A-Z]\w+)`?"
)
_METHOD_POSSESSIVE = re.compile(r"`?\b([A-Z]\w+)`?'s\s+`(\w+)(?:\(\))?`")
_ABBREVIATIONS = frozenset({"e.g", "i.e", "etc", "vs", "cf", "et.al", "a.k.a"})
_DOMAINS = frozenset({"com", "org", "net", "io", "dev", "ai", "edu", "gov", "co", "uk"})


@dataclass(frozen=True)
class Mention:
    name: str  # normalised: no backticks, no call parentheses
    shape: Shape
    code: bool  # written as code (backticks or a code block), not prose
    start: int = 0  # offset in the text (for messages; not unique)
    context: str = ""  # located: the claimed place (module or path); from_import: module
    called: bool = False


@dataclass
class Mentions:
    items: list[Mention] = field(default_factory=list)
    defined: set[str] = field(default_factory=set)  # names and paths the text defines
    imported: dict[str, str] = field(default_factory=dict)  # bound name → dotted origin
    # variable → where its type comes from: `Journal` (annotation) or `parse_journal()`
    types: dict[str, str] = field(default_factory=dict)

    def add(self, mention: Mention) -> None:
        self.items.append(mention)


def extract(text: str, extensions: frozenset[str] = frozenset()) -> Mentions:
    """Every mention in `text`. `extensions`: extra file extensions that make a word a
    path (the repository's own, e.g. `journal`)."""
    out = Mentions()
    exts = PATH_EXTENSIONS | {e.lower() for e in extensions}
    blocks = list(_FENCE.finditer(text))
    prose = list(text)
    for block in blocks:
        for i in range(block.start(), block.end()):
            prose[i] = " " if text[i] != "\n" else "\n"
    prose_text = "".join(prose)
    for block in blocks:
        lang, body = block.group(2).lower(), block.group(3)
        offset = block.start(3)
        if lang in _TOOL_BLOCKS:
            _tool_block(lang, body, offset, out, exts)
            continue
        diff = lang in ("diff", "patch") or body.lstrip().startswith(("--- ", "diff --git"))
        if diff:
            _diff_headers(body, offset, out)
            body = _strip_diff(body)
        if lang in _PY_LANGS or ((lang == "" or diff) and _looks_python(body)):
            _python(body, offset, out, exts)
        elif lang in _SHELL_LANGS:
            _shell(body, offset, out, exts)
        else:
            _loose(body, offset, out, exts, code=True)
    _prose(prose_text, out, exts)
    return out


# ---------------------------------------------------------------------- prose


def _prose(text: str, out: Mentions, exts: frozenset[str]) -> None:
    masked = _URL.sub(lambda m: " " * len(m.group(0)), text)
    for m in _LOCATED.finditer(masked):
        out.add(Mention(m.group(1), "located", True, m.start(), context=m.group(2)))
    for m in _METHOD_OF.finditer(masked):
        out.add(Mention(f"{m.group(2)}.{m.group(1)}", "dotted", True, m.start()))
    for m in _METHOD_POSSESSIVE.finditer(masked):
        out.add(Mention(f"{m.group(1)}.{m.group(2)}", "dotted", True, m.start()))
    spans: list[tuple[int, int]] = []
    for m in _INLINE.finditer(masked):
        spans.append((m.start(), m.end()))
        inner = m.group(1).strip()
        before = masked[max(0, m.start() - 80) : m.start()]
        created = bool(_CREATE.search(before + "`"))
        _inline(inner, m.start(1), out, exts, created)
    # Outside backticks: only shapes that are unlikely to be ordinary words.
    plain = list(masked)
    for a, b in spans:
        for i in range(a, b):
            plain[i] = " "
    _loose("".join(plain), 0, out, exts, code=False)
    for m in _CLASS_WORD.finditer(masked):
        name = m.group(1) or m.group(2)
        if name and name[0].isupper():
            out.add(Mention(name, "class", True, m.start()))


def _inline(inner: str, start: int, out: Mentions, exts: frozenset[str], created: bool) -> None:
    """One backticked span: a path, a name, a call, or a bit of code."""
    token = inner.rstrip(";:,")
    bare = token[:-2] if token.endswith("()") else token
    if created:
        for name in (bare, bare.rsplit("/", 1)[-1], bare.rsplit(".", 1)[-1]):
            out.defined.add(name)
        out.defined.add(bare.rstrip("/"))
    if _is_path(token, exts) or _SLASH_PATH.match(token):
        out.add(Mention(token.rstrip("/"), "path", True, start))
    elif re.fullmatch(rf"{_IDENT}(?:\.{_IDENT})+", bare):
        out.add(Mention(bare, "dotted", True, start, called=token.endswith("()")))
    elif re.fullmatch(_IDENT, bare):
        shape: Shape = "call" if token.endswith("()") else "identifier"
        if shape == "identifier" and bare[0].isupper() and not bare.isupper():
            shape = "class"
        out.add(Mention(bare, shape, True, start, called=token.endswith("()")))
    elif re.match(r"(?:from\s+\S+\s+)?import\s", token) or re.search(r"[=(:]", token):
        _python(token, start, out, exts)
    elif token.startswith(("-", "$")) or " " in token:
        _shell(token, start, out, exts)


def _loose(text: str, offset: int, out: Mentions, exts: frozenset[str], code: bool) -> None:
    """Regex extraction for prose and for code in an unknown language."""
    taken: list[tuple[int, int]] = []
    for m in _PATH.finditer(text):
        if _path_extension(m.group(1), m.group(2), exts) and not _is_version(m.group(1)):
            out.add(Mention(m.group(1), "path", code, offset + m.start()))
            taken.append((m.start(), m.end()))

    def free(a: int, b: int) -> bool:
        return not any(x < b and a < y for x, y in taken)

    for m in _DOTTED.finditer(text):
        name = m.group(1)
        if not free(m.start(), m.end()) or not _plausible_dotted(name):
            continue
        taken.append((m.start(), m.end()))
        out.add(Mention(name, "dotted", code, offset + m.start(), called=bool(m.group(2))))
    for m in _CALL.finditer(text):
        if free(m.start(), m.end()) and not _is_sentence_word(text, m):
            taken.append((m.start(), m.end()))
            out.add(Mention(m.group(1), "call", code, offset + m.start(), called=True))
    for m in _CAMEL.finditer(text):
        if free(m.start(), m.end()):
            out.add(Mention(m.group(1), "class", code, offset + m.start()))
    for m in _SNAKE.finditer(text):
        if free(m.start(), m.end()):
            out.add(Mention(m.group(1), "identifier", code, offset + m.start()))
    for m in _CONSTANT.finditer(text):
        if free(m.start(), m.end()) and m.group(1) not in ENVIRONMENT_NAMES:
            out.add(Mention(m.group(1), "identifier", code, offset + m.start()))
    for m in _CREATE_BARE.finditer(text):
        out.defined.add(m.group(1))


_CREATE_BARE = re.compile(
    r"\b(?:add|adding|create|creating|introduce|introducing|define|defining|new)\s+"
    r"(?:a\s+|an\s+|the\s+)?(?:new\s+)?(?:helper\s+|function\s+|method\s+|class\s+|file\s+|"
    r"module\s+|test\s+)?(?:called\s+|named\s+)?([\w./]+)",
    re.I,
)


def _is_path(token: str, exts: frozenset[str]) -> bool:
    m = _PATH.fullmatch(token)
    return bool(m and _path_extension(token, m.group(2), exts) and not _is_version(token))


def _path_extension(token: str, ext: str, exts: frozenset[str]) -> bool:
    """Common extensions make any `name.ext` a path; extensions known only from the
    repository (`sample.journal`) need a `/` too, or `ledger.journal` — a module —
    would read as a file."""
    ext = ext.lower()
    return ext in PATH_EXTENSIONS or (ext in exts and "/" in token)


def _is_version(token: str) -> bool:
    return bool(re.fullmatch(r"v?\d+(?:\.\d+)+\w*", token))


def _plausible_dotted(name: str) -> bool:
    parts = name.split(".")
    if name.lower() in _ABBREVIATIONS or parts[-1].lower() in _DOMAINS:
        return False
    return all(len(p) > 1 for p in parts)


def _is_sentence_word(text: str, m: re.Match[str]) -> bool:
    """`file(s)`-style plurals and prose like `word (see above)` are not calls."""
    return m.group(1).lower() in {"s", "es", "e", "i"}


# ---------------------------------------------------------------------- tool calls

# The agent's text protocol (tools.protocol): a fenced block named for the tool, with
# `key: value` lines first and the body after them.
_TOOL_BLOCKS = frozenset({"view", "search", "edit", "create", "run_tests", "submit"})
_KEY_LINE = re.compile(r"^(\w+):[ \t]*(.*)$")
_SEARCH_REPLACE = re.compile(
    r"^<{5,}\s*SEARCH\s*\n(.*?)^={5,}\s*\n(.*?)^>{5,}\s*REPLACE", re.M | re.S
)


def _tool_block(tool: str, body: str, offset: int, out: Mentions, exts: frozenset[str]) -> None:
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
            _python(rest, offset, out, exts)
        return
    if path and tool in ("view", "edit") and path not in (".", "./"):
        out.add(Mention(path.rstrip("/"), "path", True, offset))
    if tool == "run_tests":
        for target in keys.get("tests", "").split():
            out.add(Mention(target.split("::", 1)[0].rstrip("/"), "path", True, offset))
    if tool == "edit" and path.endswith(".py"):
        for m in _SEARCH_REPLACE.finditer(rest):
            before = Mentions()
            _python(m.group(1), offset, before, exts)
            out.defined |= before.defined  # the REPLACE side may use what SEARCH binds
            out.imported.update(before.imported)
            out.types.update(before.types)
            _python(m.group(2), offset + m.start(2), out, exts)


# ---------------------------------------------------------------------- shell


_SHELL_WORD = re.compile(r"""[^\s'"|;&<>()]+""")


def _shell(body: str, offset: int, out: Mentions, exts: frozenset[str]) -> None:
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
            if prev == "-m" and re.fullmatch(rf"{_IDENT}(?:\.{_IDENT})*", word):
                out.add(Mention(word, "import", True, offset + pos))
            elif _is_path(target, exts) or (
                "/" in target and _SLASH_PATH.match(target) and not target.startswith("-")
            ):
                out.add(Mention(target.rstrip("/"), "path", True, offset + pos))


# ---------------------------------------------------------------------- python


def _looks_python(body: str) -> bool:
    return bool(re.search(r"^\s*(?:def |class |import |from \S+ import |return\b|@\w)", body, re.M))


def _diff_headers(body: str, offset: int, out: Mentions) -> None:
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


def _strip_diff(body: str) -> str:
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


def _python(code: str, offset: int, out: Mentions, exts: frozenset[str]) -> None:
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
            for m in _PATH.finditer(text(node)):
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
            if not re.fullmatch(rf"{_IDENT}(?:\.{_IDENT})+", dotted):
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
    if annotation is not None and re.fullmatch(rf"{_IDENT}(?:\.{_IDENT})*", text(annotation)):
        return text(annotation)
    if ptype == "assignment" and parent.child_by_field_name("left") == node:
        right = parent.child_by_field_name("right")
        if right is not None and right.type == "call":
            callee = text(right.child_by_field_name("function"))
            if re.fullmatch(rf"{_IDENT}(?:\.{_IDENT})*", callee):
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
