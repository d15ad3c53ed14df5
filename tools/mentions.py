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
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    pass

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
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PATH_RE = re.compile(
    r"(?<![\w/.@:~$-])((?:\.{1,2}/|/)?(?:[\w.-]+/)*[\w-][\w.-]*\.([A-Za-z][\w]*))(?![\w/(-])"
)
SLASH_PATH_RE = re.compile(r"^(?:\.{1,2}/|/)?(?:[\w.-]+/)+[\w.-]*$")
_DOTTED = re.compile(rf"(?<![\w./-])({IDENT}(?:\.{IDENT})+)(\(?)")
_CALL = re.compile(rf"(?<![\w.])({IDENT})\((?!s\)|es\))")
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
_CLASS_WORD = re.compile(rf"\bclass(?:es)?\s+`?({IDENT})`?|`?\b([A-Z][A-Za-z0-9_]*)`?\s+class\b")
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
    from tools import code_mentions as code  # the code-block half (it imports this module)

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
        if lang in code.TOOL_BLOCKS:
            code.from_tool_block(lang, body, offset, out, exts)
            continue
        diff = lang in ("diff", "patch") or body.lstrip().startswith(("--- ", "diff --git"))
        if diff:
            code.diff_headers(body, offset, out)
            body = code.strip_diff(body)
        if lang in _PY_LANGS or ((lang == "" or diff) and code.looks_python(body)):
            code.from_python(body, offset, out, exts)
        elif lang in _SHELL_LANGS:
            code.from_shell(body, offset, out, exts)
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
    from tools import code_mentions as code

    token = inner.rstrip(";:,")
    bare = token[:-2] if token.endswith("()") else token
    if created:
        for name in (bare, bare.rsplit("/", 1)[-1], bare.rsplit(".", 1)[-1]):
            out.defined.add(name)
        out.defined.add(bare.rstrip("/"))
    if _NODE_ID.fullmatch(token):
        # A pytest node id, `tests/test_x.py::TestY::test_z[param]`: a file, then names
        # defined in it (not Python: `test_x.py` is no attribute access).
        path, *names = token.split("::")
        out.add(Mention(path, "path", True, start))
        for name in names:
            name = name.split("[", 1)[0]
            shape: Shape = "class" if name[:1].isupper() else "identifier"
            out.add(Mention(name, shape, True, start))
    elif is_path(token, exts) or SLASH_PATH_RE.match(token):
        out.add(Mention(token.rstrip("/"), "path", True, start))
    elif re.fullmatch(rf"{IDENT}(?:\.{IDENT})+", bare):
        out.add(Mention(bare, "dotted", True, start, called=token.endswith("()")))
    elif re.fullmatch(IDENT, bare):
        shape: Shape = "call" if token.endswith("()") else "identifier"
        if shape == "identifier" and bare[0].isupper() and not bare.isupper():
            shape = "class"
        out.add(Mention(bare, shape, True, start, called=token.endswith("()")))
    elif re.match(r"(?:from\s+\S+\s+)?import\s", token) or re.search(r"[=(:]", token):
        code.from_python(token, start, out, exts)
    elif token.startswith(("-", "$")) or " " in token:
        code.from_shell(token, start, out, exts)


def _loose(text: str, offset: int, out: Mentions, exts: frozenset[str], code: bool) -> None:
    """Regex extraction for prose and for code in an unknown language."""
    taken: list[tuple[int, int]] = []
    for m in PATH_RE.finditer(text):
        if path_extension(m.group(1), m.group(2), exts) and not _is_version(m.group(1)):
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


_NODE_ID = re.compile(rf"[\w./-]+\.py(?:::{IDENT})+(?:\[[^\]]*\])?")

_CREATE_BARE = re.compile(
    r"\b(?:add|adding|create|creating|introduce|introducing|define|defining|new)\s+"
    r"(?:a\s+|an\s+|the\s+)?(?:new\s+)?(?:helper\s+|function\s+|method\s+|class\s+|file\s+|"
    r"module\s+|test\s+)?(?:called\s+|named\s+)?([\w./]+)",
    re.I,
)


def is_path(token: str, exts: frozenset[str]) -> bool:
    m = PATH_RE.fullmatch(token)
    return bool(m and path_extension(token, m.group(2), exts) and not _is_version(token))


def path_extension(token: str, ext: str, exts: frozenset[str]) -> bool:
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
