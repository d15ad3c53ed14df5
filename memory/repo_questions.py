"""Closed-book questions about a repository, made from its tree-sitter index.

Every question's answer is read off the index (never off model output), and a question
is asked only when its answer is unambiguous:

| kind | question | answer | asked when |
|---|---|---|---|
| `defined_in` | Which file defines the class/function `X`? | its path | `X` is public, top-level and the only definition with that name outside tests |
| `method_of` | Which class has the method `m`? | the class | exactly one class (outside tests) defines a public `m` |
| `parameters` | What parameters does `f` take? | the names, in order | `f` is unique and takes at least one (self/cls left out) |
| `returns` | What does `f` return, per its annotation? | the annotation | unique `f`, annotated, not `-> None` |
| `base_class` | What is the base class of `C`? | the one base | unique `C` with exactly one base other than `object` |
| `tested_by` | Which source file do the tests in `T` test? | the path | `memory.tested_modules` says so for sure |

Questions are generated for every candidate, deduplicated by text, shuffled with the
seed and then taken from each kind in turn until `n` (so kinds stay mixed). The same
index and seed give the same questions.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from collections import defaultdict
from typing import TYPE_CHECKING

from pydantic import Field

from agent.types import Model
from memory.module_outline import public
from memory.tested_modules import is_test_file, tested_module

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex
    from tools.symbols import Definition

KINDS = ("defined_in", "method_of", "parameters", "returns", "base_class", "tested_by")
# What the evaluation appends to each question so the short answer has a known shape.
ANSWER_HINTS = {
    "defined_in": "Answer with the file path only.",
    "method_of": "Answer with the class name only.",
    "parameters": "Answer with the parameter names only, comma-separated.",
    "returns": "Answer with the return type only.",
    "base_class": "Answer with the base class name only.",
    "tested_by": "Answer with the file path only.",
}


class RepoQuestion(Model):
    id: str
    kind: str
    question: str
    answer: str
    accept: list[str] = Field(default_factory=list, description="forms that count as right")


def _question(kind: str, question: str, answer: str, accept: list[str]) -> RepoQuestion:
    ident = hashlib.sha256(f"{kind}\0{question}".encode()).hexdigest()[:12]
    forms = list(dict.fromkeys(a for a in [answer, *accept] if a))
    return RepoQuestion(id=ident, kind=kind, question=question, answer=answer, accept=forms)


def path_forms(index: SymbolIndex, path: str) -> list[str]:
    """A file named in any reasonable form: the path, the path under `src/`, the dotted
    module, and the bare file name when no other file in the repository has it."""
    forms = [path]
    if path.startswith("src/"):
        forms.append(path[4:])
    module = index.module_of(path)
    if module:
        forms.append(module)
    base = path.rsplit("/", 1)[-1]
    if sum(1 for p in index.paths if p.rsplit("/", 1)[-1] == base) == 1:
        forms.append(base)
    return forms


def parameters(signature: str) -> list[str] | None:
    """Parameter names of a `def` header (self/cls left out); None if it does not parse."""
    header = signature.strip().rstrip(":")
    if not re.match(r"(async\s+)?def\s", header):
        return None
    try:
        tree = ast.parse(header + ": ...")
    except SyntaxError:
        return None
    func = tree.body[0]
    if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    a = func.args
    names = [x.arg for x in [*a.posonlyargs, *a.args]]
    if a.vararg:
        names.append(a.vararg.arg)
    names += [x.arg for x in a.kwonlyargs]
    if a.kwarg:
        names.append(a.kwarg.arg)
    return [n for n in names if n not in ("self", "cls")]


def return_annotation(signature: str) -> str | None:
    match = re.search(r"->\s*(.+?)\s*:?\s*$", signature.strip())
    if match is None:
        return None
    value = match.group(1).strip().strip("'\"")
    return None if value in ("None", "") else value


def _source_defs(index: SymbolIndex) -> list[tuple[str, Definition]]:
    return [(path, d) for path in sorted(index.entries) if not is_test_file(path)
            for d in index.definitions(path) if public(d)]  # fmt: skip


def repo_questions(
    repo_root, index: SymbolIndex, *, n: int = 40, seed: int = 0
) -> list[RepoQuestion]:
    """Up to `n` questions of mixed kinds (see the module docstring)."""
    defs = _source_defs(index)
    by_short: dict[str, list[tuple[str, Definition]]] = defaultdict(list)
    for path, d in defs:
        by_short[d.short].append((path, d))
    pools: dict[str, list[RepoQuestion]] = {k: [] for k in KINDS}
    for path, d in defs:
        same = by_short[d.short]
        unique = len(same) == 1
        label = d.name  # qualified within its module: `Money.parse`
        if d.kind in ("class", "function") and d.parent is None and unique:
            what = "class" if d.kind == "class" else "function"
            pools["defined_in"].append(_question(
                "defined_in", f"Which file defines the {what} `{d.name}`?", path,
                path_forms(index, path)))  # fmt: skip
        if d.kind == "method" and not d.short.startswith("_"):
            owners = {(p, x.parent) for p, x in same if x.kind == "method"}
            if len(owners) == 1 and d.parent and "." not in d.parent:
                pools["method_of"].append(_question(
                    "method_of", f"Which class has the method `{d.short}`?", d.parent,
                    [f"{d.parent}.{d.short}"]))  # fmt: skip
        if d.kind in ("function", "method") and unique:
            params = parameters(d.signature)
            if params:
                pools["parameters"].append(_question(
                    "parameters", f"What parameters does `{label}` take?", ", ".join(params),
                    params))  # fmt: skip
            returns = return_annotation(d.signature)
            if returns:
                pools["returns"].append(_question(
                    "returns", f"What does `{label}` return, according to its annotation?",
                    returns, []))  # fmt: skip
        if d.kind == "class" and unique and len(d.bases) == 1:
            base = d.bases[0].strip()
            if base and base != "object" and "=" not in base:
                tail = base.rsplit(".", 1)[-1]
                pools["base_class"].append(_question(
                    "base_class", f"What is the base class of `{d.name}`?", base, [tail]))  # fmt: skip
    for path in sorted(index.entries):
        if is_test_file(path) and path.rsplit("/", 1)[-1].startswith("test"):
            target = tested_module(index, path)
            if target is not None:
                pools["tested_by"].append(_question(
                    "tested_by", f"Which source file do the tests in `{path}` test?", target,
                    path_forms(index, target)))  # fmt: skip
    rng = random.Random(seed)
    seen: set[str] = set()
    for kind in KINDS:
        unique_pool = []
        for q in pools[kind]:
            if q.question not in seen:
                seen.add(q.question)
                unique_pool.append(q)
        rng.shuffle(unique_pool)
        pools[kind] = unique_pool
    out: list[RepoQuestion] = []
    depth = 0
    while len(out) < n and any(depth < len(p) for p in pools.values()):
        for kind in KINDS:
            if depth < len(pools[kind]) and len(out) < n:
                out.append(pools[kind][depth])
        depth += 1
    return out
