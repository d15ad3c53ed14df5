"""Candidate ranking from evidence: tracebacks, what the failing tests call, operators
they apply, their names, the statement, and one hop down the call graph."""

from __future__ import annotations

import pytest

from agent.policies.localize import Candidate, is_test_path, rank_candidates
from tests.conftest import make_git_repo
from tools.index import SymbolIndex
from tools.types import TestOutcome

CART = """class Cart:
    def __init__(self):
        self.items = []

    def add(self, name, price, qty=1):
        self.items.append((name, price, qty))

    def total(self):
        return sum(line_total(p, q) for _, p, q in self.items)


def line_total(price, qty):
    return price - qty


def unrelated():
    return 1
"""
MONEY = """class Money:
    def __init__(self, amount):
        self.amount = amount

    def __mul__(self, k):
        return Money(self.amount + k)

    def __eq__(self, other):
        return self.amount == other.amount


def percent_used(spent, budget):
    return 100 * budget / spent
"""
TESTS = """from shop.cart import Cart
from shop.money import Money, percent_used


def test_total():
    cart = Cart()
    cart.add("a", 2, 3)
    assert cart.total() == 6


def test_scale():
    assert Money(2) * 3 == Money(6)


def test_percent_used_is_a_share():
    assert percent_used(50, 200) == 25
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> SymbolIndex:
    repo = make_git_repo(tmp_path_factory.mktemp("loc") / "repo", {
        "src/shop/__init__.py": "", "src/shop/cart.py": CART, "src/shop/money.py": MONEY,
        "tests/test_shop.py": TESTS,
    })  # fmt: skip
    return SymbolIndex.build(repo)


def names(ranked: list[Candidate]) -> list[str]:
    return [c.name for c in ranked]


def test_the_function_that_raised_comes_first(index):
    failure = TestOutcome(test_id="tests/test_shop.py::test_total", status="failed",
                          message="assert 5 == 6",
                          frames=["tests/test_shop.py:8", "src/shop/cart.py:9",
                                  "src/shop/cart.py:13"])  # fmt: skip
    ranked = rank_candidates(index, [failure])
    assert names(ranked)[:2] == ["line_total", "Cart.total"]
    assert "where the failure was raised" in ranked[0].reasons
    assert (ranked[0].path, ranked[0].start, ranked[0].end) == ("src/shop/cart.py", 12, 13)
    assert "unrelated" not in names(ranked)


def test_without_frames_the_called_method_and_its_callee_are_candidates(index):
    failure = TestOutcome(test_id="tests/test_shop.py::test_total", status="failed",
                          message="assert 5 == 6")  # fmt: skip
    ranked = names(rank_candidates(index, [failure]))
    assert ranked[0] == "Cart.total" and "line_total" in ranked[:4]
    assert "unrelated" not in ranked


def test_an_operator_the_test_applies_makes_its_dunder_a_candidate(index):
    failure = TestOutcome(test_id="tests/test_shop.py::test_scale", status="failed",
                          message="assert <Money> == <Money>")  # fmt: skip
    ranked = names(rank_candidates(index, [failure]))
    assert "Money.__mul__" in ranked[:3] and "Money.__eq__" in ranked[:3]


def test_the_test_name_spells_the_function(index):
    failure = TestOutcome(test_id="tests/test_shop.py::test_percent_used_is_a_share",
                          status="failed", message="assert 400.0 == 25")  # fmt: skip
    ranked = rank_candidates(index, [failure])
    assert ranked[0].name == "percent_used"
    assert "named in a failing test's name" in ranked[0].reasons


def test_the_statement_alone_names_a_candidate(index):
    ranked = rank_candidates(index, [], statement="`line_total` ignores the quantity")
    assert names(ranked) == ["line_total"]


def test_tests_are_never_candidates(index):
    failure = TestOutcome(test_id="tests/test_shop.py::test_total", status="failed",
                          frames=["tests/test_shop.py:8"])  # fmt: skip
    assert not any(is_test_path(c.path) for c in rank_candidates(index, [failure]))
    assert is_test_path("tests/test_shop.py") and is_test_path("pkg/conftest.py")
    assert not is_test_path("src/shop/cart.py")


def test_candidates_survive_json(index):
    (first, *_) = rank_candidates(index, [], statement="`line_total`")
    assert Candidate.from_json(first.to_json()) == first
