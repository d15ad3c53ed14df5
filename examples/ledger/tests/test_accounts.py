from decimal import Decimal

import pytest

from ledger.accounts import (
    AccountTree,
    ancestors,
    depth,
    is_under,
    parent_name,
    root_type,
    split_name,
    truncate,
)
from ledger.errors import InvalidAccountName, UnknownAccount
from ledger.money import Money


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


@pytest.mark.parametrize("name", ["", "expenses::food", ":expenses", "expenses: food", "expenses:"])
def test_split_name_rejects_empty_or_padded_segments(name):
    with pytest.raises(InvalidAccountName):
        split_name(name)


def test_name_helpers():
    name = "expenses:food:groceries"
    assert split_name(name) == ["expenses", "food", "groceries"]
    assert depth(name) == 3
    assert depth("assets") == 1
    assert parent_name(name) == "expenses:food"
    assert parent_name("assets") is None
    assert ancestors(name) == ["expenses", "expenses:food"]
    assert ancestors("assets") == []


def test_truncate_to_depth():
    assert truncate("expenses:food:groceries", 2) == "expenses:food"
    assert truncate("expenses:food:groceries", 3) == "expenses:food:groceries"
    assert truncate("expenses:food", 1) == "expenses"
    assert truncate("expenses", 5) == "expenses"
    with pytest.raises(ValueError):
        truncate("expenses", 0)


def test_is_under_and_root_type():
    assert is_under("expenses:food", "expenses")
    assert is_under("expenses", "expenses")
    assert not is_under("expensesx:food", "expenses")
    assert not is_under("expenses", "expenses:food")
    assert root_type("liabilities:creditcard") == "liabilities"
    with pytest.raises(InvalidAccountName, match="not under one of"):
        root_type("food:groceries")


def test_tree_add_creates_missing_parents():
    tree = AccountTree()
    leaf = tree.add("assets:bank:checking")
    tree.add("assets:bank:savings")
    assert len(tree) == 4
    assert "assets:bank" in tree
    assert list(tree.roots) == ["assets"]
    assert tree.children_of("assets:bank") == ["assets:bank:checking", "assets:bank:savings"]
    assert leaf.parent is tree.get("assets:bank")
    assert (leaf.leaf, leaf.depth, repr(leaf)) == ("checking", 3, "Account('assets:bank:checking')")
    assert tree.add("assets:bank") is tree.get("assets:bank")
    with pytest.raises(UnknownAccount):
        tree.get("assets:broker")


def test_tree_rolls_balances_up_to_parents_per_currency():
    tree = AccountTree()
    tree.post("assets:bank:checking", eur("100.00"))
    tree.post("assets:bank:checking", eur("-30.00"))
    tree.post("assets:bank:savings", eur("50.00"))
    tree.post("assets:bank", eur("1.00"))
    tree.post("assets:cash", Money(Decimal(5), "USD"))
    assert tree.get("assets:bank:checking").balance == {"EUR": eur("70.00")}
    assert tree.get("assets:bank").total() == {"EUR": eur("121.00")}
    assert tree.get("assets").total() == {"EUR": eur("121.00"), "USD": Money(Decimal(5), "USD")}


def test_tree_walk_order_and_depth_limited_balances():
    tree = AccountTree()
    for name in ("expenses:rent", "assets:cash", "expenses:food:groceries", "assets:bank"):
        tree.post(name, eur("1"))
    assert [a.name for a in tree.walk()] == [
        "assets",
        "assets:bank",
        "assets:cash",
        "expenses",
        "expenses:food",
        "expenses:food:groceries",
        "expenses:rent",
    ]
    assert list(tree.balances(max_depth=1)) == ["assets", "expenses"]
    assert list(tree.balances(max_depth=2)) == [
        "assets",
        "assets:bank",
        "assets:cash",
        "expenses",
        "expenses:food",
        "expenses:rent",
    ]
    assert tree.balances()["expenses"] == {"EUR": eur("2")}
