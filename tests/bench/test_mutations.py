"""Mutation operators on small sources: which sites each kind finds, and what applying gives."""

from __future__ import annotations

import ast
import textwrap

import pytest

from agent.examples import examples_dir
from bench.mutation import (
    KINDS,
    MutationError,
    apply_mutations,
    apply_to_source,
    candidate_key,
    find_mutations,
)
from tools.testpaths import is_mutable_source, is_test_path


def sites(source: str, kind: str) -> list[tuple[str, str]]:
    """(original, replacement) of every site of `kind`."""
    data = textwrap.dedent(source).encode()
    return [(m.original, m.replacement) for m in find_mutations("m.py", data) if m.kind == kind]


def mutated(source: str, kind: str, index: int = 0) -> str:
    data = textwrap.dedent(source).encode()
    found = [m for m in find_mutations("m.py", data) if m.kind == kind]
    return apply_to_source(data, [found[index]]).decode()


# -- comparison ---------------------------------------------------------------------


def test_comparison_moves_a_boundary():
    assert mutated("def f(a, b):\n    return a < b\n", "comparison") == (
        "def f(a, b):\n    return a <= b\n"
    )


@pytest.mark.parametrize(
    ("expr", "expected"),
    [("x is not None", "x is None"), ("x not in xs", "x in xs"), ("x == y", "x != y"),
     ("x >= y", "x > y"), ("x in xs", "x not in xs")],
)  # fmt: skip
def test_comparison_variants(expr, expected):
    assert mutated(f"def f(x, y, xs):\n    return {expr}\n", "comparison") == (
        f"def f(x, y, xs):\n    return {expected}\n"
    )


def test_comparison_operator_is_found_between_parentheses_and_comments():
    source = "def f(a, b):\n    return ((a)  # left\n            < (b))\n"
    assert mutated(source, "comparison") == source.replace("< (b)", "<= (b)")


def test_chained_comparison_gives_a_site_per_operator():
    assert sites("def f(a, b, c):\n    return a < b <= c\n", "comparison") == [
        ("<", "<="), ("<=", "<")
    ]  # fmt: skip


# -- arithmetic ---------------------------------------------------------------------


def test_arithmetic_swaps_plus_and_minus():
    assert mutated("def f(a, b):\n    return a + b\n", "arithmetic") == (
        "def f(a, b):\n    return a - b\n"
    )


def test_string_concatenation_and_sequence_repetition_are_not_arithmetic():
    assert sites("def f(a):\n    return 'x' + a, [0] * a, f'{a}' + a\n", "arithmetic") == []


def test_augmented_assignment():
    assert mutated("def f(t, x):\n    t += x\n    return t\n", "arithmetic") == (
        "def f(t, x):\n    t -= x\n    return t\n"
    )


def test_floor_division_becomes_true_division():
    assert sites("def f(a):\n    return a // 2\n", "arithmetic") == [("//", "/")]


# -- off by one -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "expected"),
    [("xs[1:]", "xs[2:]"), ("xs[:-1]", "xs[:-2]"), ("range(n + 1)", "range(n)"),
     ("range(len(xs))", "range(len(xs) - 1)"), ("xs[0]", "xs[1]"),
     ("xs[:n]", "xs[:n - 1]"), ("range(a, b)", "range(a + 1, b)")],
)  # fmt: skip
def test_off_by_one(expr, expected):
    assert mutated(f"def f(xs, n, a, b):\n    return {expr}\n", "off_by_one") == (
        f"def f(xs, n, a, b):\n    return {expected}\n"
    )


def test_off_by_one_on_an_ordering_bound():
    assert sites("def f(n):\n    return n > 0\n", "off_by_one") == [("0", "1")]


def test_an_off_by_one_literal_is_not_also_a_wrong_constant():
    assert sites("def f(xs):\n    return xs[1:]\n", "wrong_constant") == []


# -- removed statements ---------------------------------------------------------------

REMOVABLE = """\
def update(self, item, total):
    total += item.price
    self.count = self.count + 1
    self.items.append(item)
    fresh = item.copy()
    fresh = fresh.strip()
    if item is None:
        return total
    return total, fresh
"""


def test_removed_statement_sites():
    found = [m.original.strip() for m in find_mutations("m.py", REMOVABLE.encode())
             if m.kind == "removed_statement"]  # fmt: skip
    assert found == [
        "total += item.price",
        "self.count = self.count + 1",
        "self.items.append(item)",
        "fresh = fresh.strip()",  # rebinding: `fresh` was bound before
        "if item is None:\n        return total",
    ]  # the first binding of `fresh` is not removable: that would be an UnboundLocalError


def test_removing_a_statement_deletes_its_lines():
    out = mutated(REMOVABLE, "removed_statement", 2)
    assert "append" not in out
    assert out.count("\n") == REMOVABLE.count("\n") - 1
    ast.parse(out)


def test_a_statement_alone_in_its_block_becomes_pass():
    out = mutated("def f(x):\n    if x:\n        raise ValueError(x)\n    return x\n",
                  "removed_statement", 1)  # fmt: skip
    assert out == "def f(x):\n    if x:\n        pass\n    return x\n"


def test_module_level_statements_are_not_removed():
    assert sites("X = 1\nprint(X)\n", "removed_statement") == []


# -- swapped arguments ------------------------------------------------------------------


def test_swapped_arguments():
    assert mutated("def f(a, b):\n    return g(a, b)\n", "swapped_arguments") == (
        "def f(a, b):\n    return g(b, a)\n"
    )


def test_symmetric_calls_and_identical_arguments_are_not_swapped():
    assert sites("def f(a, b):\n    return max(a, b), g(a, a), isinstance(a, b)\n",
                 "swapped_arguments") == []  # fmt: skip


# -- wrong constants ------------------------------------------------------------------


def test_wrong_constants():
    source = 'def f(x, strict=False):\n    return round(x, 2), ",".join(x)\n'
    assert sites(source, "wrong_constant") == [("False", "True"), ("2", "4"), ('","', '";"')]


def test_docstrings_dunders_annotations_and_fstrings_are_left_alone():
    source = '''\
    """Module doc, 1 2 3."""
    __version__ = "1.0"
    __all__ = ["f"]
    LIMIT: int = 10

    def f(x: "int" = 3) -> list[int]:
        """Doc: 1."""
        assert x > 0
        return f"{x:>5}"
    '''
    found = sites(source, "wrong_constant")
    assert found == [("10", "20"), ("3", "6")]


def test_main_block_is_left_alone():
    source = "def f(a):\n    return a\n\nif __name__ == '__main__':\n    print(f(1 + 2))\n"
    assert sites(source, "arithmetic") == [] and sites(source, "wrong_constant") == []


# -- return values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ret", "expected"),
    [("True", "False"), ("0", "1"), ("a < b", "not (a < b)"), ("not a", "a"),
     ("a, b", "b, a"), ("a.total()", "None")],
)  # fmt: skip
def test_return_values(ret, expected):
    assert mutated(f"def f(a, b):\n    return {ret}\n", "return_value") == (
        f"def f(a, b):\n    return {expected}\n"
    )


def test_generators_keep_their_returns():
    assert sites("def f(a):\n    yield a\n    return a\n", "return_value") == []


# -- boolean operators ---------------------------------------------------------------------


def test_boolean_operators():
    source = "def f(a, b, xs):\n    return (a and b) or not a, any(xs)\n"
    assert sites(source, "boolean_operator") == [
        ("or", "and"), ("and", "or"), ("not a", "a"), ("any", "all")
    ]  # fmt: skip


# -- applying ------------------------------------------------------------------------------


def test_offsets_are_bytes_so_non_ascii_text_before_the_site_is_fine():
    source = 'def f(a, b):\n    s = "größer → ✓"\n    return s, a < b\n'
    out = mutated(source, "comparison")
    assert out == source.replace("a < b", "a <= b")


def test_apply_refuses_a_no_op():
    data = b"def f(a):\n    return a + 0\n"
    plus = next(m for m in find_mutations("m.py", data) if m.kind == "arithmetic")
    same_program = plus.model_copy(update={"replacement": " + "})  # new text, same AST
    with pytest.raises(MutationError, match="does not change"):
        apply_mutations({"m.py": data}, [same_program])


def test_apply_refuses_overlaps_and_stale_sites():
    data = b"def f(a, b):\n    return a < b\n"
    comparison = next(m for m in find_mutations("m.py", data) if m.kind == "comparison")
    with pytest.raises(MutationError, match="overlapping"):
        apply_to_source(data, [comparison, comparison])
    with pytest.raises(MutationError, match="no longer"):
        apply_to_source(data.replace(b"<", b">"), [comparison])


def test_apply_refuses_a_mutation_that_does_not_parse():
    data = b"def f(a, b):\n    return a < b\n"
    comparison = next(m for m in find_mutations("m.py", data) if m.kind == "comparison")
    broken = comparison.model_copy(update={"replacement": "<<<"})
    with pytest.raises(MutationError, match="does not parse"):
        apply_mutations({"m.py": data}, [broken])


def test_candidate_key_does_not_depend_on_order():
    data = b"def f(a, b):\n    return a < b and a + b\n"
    found = find_mutations("m.py", data)
    assert candidate_key(found[:2]) == candidate_key(found[:2][::-1])
    assert candidate_key(found[:1]) != candidate_key(found[1:2])


def test_every_site_of_the_bundled_example_applies_and_parses():
    root = examples_dir() / "ledger"
    kinds_seen: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if not is_mutable_source(rel):
            assert is_test_path(rel) or rel.endswith("__main__.py") or "/" not in rel
            continue
        data = path.read_bytes()
        for m in find_mutations(rel, data):
            kinds_seen.add(m.kind)
            ast.parse(apply_to_source(data, [m]))
    assert kinds_seen == set(KINDS)


def test_test_files_are_never_mutation_targets():
    assert not is_mutable_source("tests/test_money.py")
    assert not is_mutable_source("pkg/tests/helpers.py")
    assert not is_mutable_source("conftest.py")
    assert not is_mutable_source("setup.py")
    assert is_mutable_source("src/ledger/money.py")
