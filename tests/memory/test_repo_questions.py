"""Questions made from the index of the ledger example, answers checked against the files."""

from __future__ import annotations

import ast
import re
from collections import Counter

import pytest

from memory.repo_questions import KINDS, parameters, repo_questions, return_annotation
from tests.memory.knowledge_fixtures import LEDGER, ledger_index


@pytest.fixture(scope="module")
def index():
    return ledger_index()


@pytest.fixture(scope="module")
def questions(index):
    return repo_questions(LEDGER, index, n=200, seed=0)


def _name(question: str) -> str:
    return re.search(r"`([^`]+)`", question).group(1)


def _source_defs():
    """Qualified name → (path, ast node) for every def/class outside tests, read with ast."""
    out: dict[str, list[tuple[str, ast.AST]]] = {}
    for path in sorted((LEDGER / "src").rglob("*.py")):
        rel = path.relative_to(LEDGER).as_posix()
        tree = ast.parse(path.read_text())

        def walk(body, prefix, rel=rel):
            for node in body:
                if isinstance(node, ast.FunctionDef | ast.ClassDef):
                    out.setdefault(prefix + node.name, []).append((rel, node))
                    if isinstance(node, ast.ClassDef):
                        walk(node.body, prefix + node.name + ".")

        walk(tree.body, "")
    return out


def test_every_kind_is_asked_and_mixed(index):
    asked = repo_questions(LEDGER, index, n=24, seed=0)
    counts = Counter(q.kind for q in asked)
    assert set(counts) == set(KINDS) and max(counts.values()) - min(counts.values()) <= 1


def test_same_seed_same_questions_other_seed_other_order(index):
    a = repo_questions(LEDGER, index, n=20, seed=0)
    assert a == repo_questions(LEDGER, index, n=20, seed=0)
    assert [q.id for q in a] != [q.id for q in repo_questions(LEDGER, index, n=20, seed=1)]


def test_no_duplicates_and_stable_ids(questions):
    assert len({q.question for q in questions}) == len(questions)
    assert len({q.id for q in questions}) == len(questions)


def test_answers_match_the_source(questions):
    defs = _source_defs()
    checked = Counter()
    for q in questions:
        name = _name(q.question)
        if q.kind == "defined_in":
            ((path, _),) = defs[name]
            assert q.answer == path and "ledger." + path[len("src/ledger/") : -3] in q.accept
        elif q.kind == "method_of":
            owners = {k.rsplit(".", 1)[0] for k in defs if k.endswith("." + name)}
            assert owners == {q.answer}
        elif q.kind == "parameters":
            ((_, node),) = defs[name]
            args = node.args
            expected = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
                        if a.arg not in ("self", "cls")]  # fmt: skip
            expected += [a.arg for a in (args.vararg, args.kwarg) if a]
            assert sorted(q.answer.split(", ")) == sorted(expected)
        elif q.kind == "returns":
            ((_, node),) = defs[name]
            assert ast.unparse(node.returns).replace("'", "") == q.answer
        elif q.kind == "base_class":
            ((_, node),) = defs[name]
            assert [ast.unparse(b) for b in node.bases] == [q.answer]
        elif q.kind == "tested_by":
            test_src = (LEDGER / name).read_text()
            module = q.answer[len("src/") : -3].replace("/", ".")
            assert re.search(
                rf"from {re.escape(module)} import|import {re.escape(module)}", test_src
            )
        checked[q.kind] += 1
    assert set(checked) == set(KINDS)


def test_known_facts_are_asked(questions):
    by_text = {q.question: q for q in questions}
    q = by_text["Which file defines the class `Money`?"]
    assert q.answer == "src/ledger/money.py"
    assert set(q.accept) >= {"src/ledger/money.py", "ledger/money.py", "ledger.money", "money.py"}
    q = by_text["Which source file do the tests in `tests/test_money.py` test?"]
    assert q.answer == "src/ledger/money.py"


def test_no_questions_about_tests_or_private_names(questions):
    for q in questions:
        name = _name(q.question)
        if q.kind != "tested_by":
            assert not name.startswith("test_") and not name.split(".")[-1].startswith("_")


def test_signature_helpers():
    assert parameters("def f(self, a, b: int = 1, *args, c, **kw) -> int:") == [
        "a", "b", "args", "c", "kw"]  # fmt: skip
    assert parameters("class C(Base):") is None
    assert return_annotation("def f(x) -> dict[str, int]:") == "dict[str, int]"
    assert return_annotation("def f(x) -> None:") is None
    assert return_annotation("def f(x):") is None
