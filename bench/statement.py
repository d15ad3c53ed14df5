"""Problem statements written from the failure, the way a user would report it.

A statement says which behaviour is wrong (the failing test's docstring or name, and
the API it exercises), shows the test's assertion or traceback as pytest printed it,
and gives the command to reproduce. It never names the fix, the mutated line or the
operator: traceback frames outside test files are dropped (their source lines are
the library's, possibly the mutated one), and any line that still contains the
text of a mutated line is removed as a last guard.

Phrasing varies between a few templates, chosen from the task id, so a model trained
on some tasks cannot key on one fixed wording.
"""

from __future__ import annotations

import ast
import hashlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.mutation import Mutation
from tools.testing.discovery import TestPlan
from tools.testpaths import is_test_path, test_file_of

_FRAME = re.compile(r"^(?P<path>\S+):(?P<line>\d+): in (?P<func>\S+)$")
_NOISE = re.compile(r"^E\s+(Use -v+ to get|Omitting \d+ identical items|Full diff:)")
_SECTION = re.compile(r"^=+ (FAILURES|ERRORS) =+$")
_END = re.compile(r"^=+ (short test summary info|\d+ (failed|passed|error)).*=+$")
# pytest's section titles: `____ test_x ____`, or `_ test_x[long id] _` when the id is long.
_SEPARATOR = re.compile(r"^(_+ \S.* _+|-{3,} .* -{3,})$")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
MAX_EXCERPT_LINES = 24
MAX_OTHERS = 6


@dataclass
class FailureFacts:
    """What the statement is made from (all of it visible to a user running the tests)."""

    failing: list[str]
    messages: dict[str, str]
    excerpt: str
    plan: TestPlan
    mutations: list[Mutation]
    read_clean: Callable[[str], bytes | None]
    public_names: set[str] = field(default_factory=set)


def humanise(test_id: str) -> str:
    """`tests/test_x.py::TestA::test_splits_on_commas[a,b]` → `splits on commas (case a,b)`."""
    last = re.split(r"::|\.", test_id.split("[", 1)[0])[-1]
    words = re.sub(r"^test_?", "", last).replace("_", " ").strip() or last
    params = re.search(r"\[(.*)\]$", test_id)
    return f"{words} (case `{params.group(1)}`)" if params else words


def _test_node(tree: ast.Module, test_id: str) -> ast.FunctionDef | None:
    name = re.split(r"::|\.", test_id.split("[", 1)[0])[-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return node  # type: ignore[return-value]
    return None


def test_file(test_id: str) -> str | None:
    found = test_file_of(test_id)
    if found:
        return found
    parts = test_id.split(".")  # unittest: package.module.Class.test
    for cut in range(len(parts) - 1, 0, -1):
        candidate = "/".join(parts[:cut]) + ".py"
        if is_test_path(candidate):
            return candidate
    return None


def _imported_names(tree: ast.Module, public: set[str]) -> set[str]:
    """Names the test module imports that the project defines (its API under test)."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names if alias.name in public}
    return names


def describe_test(test_id: str, facts: FailureFacts) -> tuple[str, bool, list[str]]:
    """(expected behaviour, whether it is the test's docstring, API names the test uses)."""
    behaviour, documented = humanise(test_id), False
    names: list[str] = []
    path = test_file(test_id)
    source = facts.read_clean(path) if path else None
    tree = None
    if source:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            tree = None
    node = _test_node(tree, test_id) if tree else None
    if node is not None and tree is not None:
        doc = ast.get_docstring(node)
        if doc:
            behaviour = doc.strip().splitlines()[0].rstrip(".")
            behaviour, documented = behaviour[:1].lower() + behaviour[1:], True
        api = _imported_names(tree, facts.public_names)
        for child in ast.walk(node):
            if isinstance(child, ast.Name) and child.id in api and child.id not in names:
                names.append(child.id)
    return behaviour, documented, names[:2]


def clean_traceback(output: str) -> str:
    """pytest's short traceback, keeping only test-file frames and the error lines."""
    kept: list[str] = []
    inside = False
    skipping = False
    for line in output.splitlines():
        if _SECTION.match(line):
            inside = True
            continue
        if not inside:
            continue
        if _END.match(line):
            break
        if _SEPARATOR.match(line) or not line.strip():
            continue
        frame = _FRAME.match(line)
        if frame:
            skipping = not is_test_path(frame["path"])
            if not skipping:
                kept.append(line)
            continue
        if line.startswith("E "):
            if not _NOISE.match(line):
                kept.append(line)
            skipping = False
            continue
        if not skipping:
            kept.append(line)
    return "\n".join(kept[:MAX_EXCERPT_LINES])


def _mutated_lines(facts: FailureFacts) -> list[str]:
    """The text of each mutated line, before and after, for the leak guard."""
    out: list[str] = []
    for m in facts.mutations:
        source = facts.read_clean(m.file) or b""
        lines = source.decode("utf-8", "replace").splitlines()
        before = lines[m.line - 1 : m.end_line]
        out += [line.strip() for line in before]
        for line in before:
            if m.original and m.original in line:
                out.append(line.replace(m.original, m.replacement, 1).strip())
    return [line for line in out if len(line) >= 8]


def _guard(text: str, facts: FailureFacts) -> str:
    banned = _mutated_lines(facts)
    kept = [line for line in text.splitlines() if not any(b in line for b in banned)]
    return "\n".join(kept)


def reproduce_command(plan: TestPlan, test_ids: list[str]) -> str:
    env = f"PYTHONPATH={':'.join(plan.pythonpath)} " if plan.pythonpath else ""
    ids = " ".join(shlex.quote(t) for t in test_ids)
    if plan.framework == "unittest":
        return f"{env}python -m unittest {ids}"
    return f"{env}python -m pytest {ids}"


def _subject(names: list[str], test_id: str) -> str:
    if names:
        return ", ".join(f"`{n}`" for n in names[:2])
    path = test_file(test_id) or ""
    module = re.sub(r"^test_|_test$", "", path.rsplit("/", 1)[-1].removesuffix(".py"))
    return f"the {module} module" if module else "the library"


def write_statement(instance_id: str, facts: FailureFacts) -> str:
    first = facts.failing[0]
    behaviour, documented, names = describe_test(first, facts)
    subject = _subject(names, first)
    what = behaviour if documented else f"“{behaviour}”"
    excerpt = clean_traceback(facts.excerpt) or facts.messages.get(first, "").strip()
    excerpt = _ADDRESS.sub("0x…", excerpt)  # object addresses change from run to run
    command = reproduce_command(facts.plan, [first])
    others = facts.failing[1:]
    also = ""
    if others:
        shown = ", ".join(f"`{t}`" for t in others[:MAX_OTHERS])
        more = f" and {len(others) - MAX_OTHERS} more" if len(others) > MAX_OTHERS else ""
        also = f"\n\nOther tests that fail now: {shown}{more}."
    block = f"```\n{excerpt}\n```" if excerpt else "(no output beyond the failure itself)"
    style = int(hashlib.sha256(instance_id.encode()).hexdigest(), 16) % 3
    if style == 0:
        text = (
            f"Wrong result from {subject}\n\n"
            f"`{first}` fails; it checks {what}:\n\n{block}\n\n"
            f"To reproduce:\n\n    {command}{also}"
        )
    elif style == 1:
        text = (
            f"{subject[:1].upper()}{subject[1:]} is broken: {what}\n\n"
            f"Running `{command}` gives:\n\n{block}\n\n"
            f"This test used to pass.{also}"
        )
    else:
        text = (
            f"Regression in {subject}\n\n"
            f"`{first}` started failing (it checks {what}).\n\n"
            f"{block}\n\nReproduce with `{command}`.{also}"
        )
    return _guard(text, facts).strip() + "\n"
