import re
from datetime import date
from decimal import Decimal

import pytest

from ledger.dates import Period, month_period
from ledger.errors import UnbalancedTransaction
from ledger.journal import Journal, Posting, Transaction
from ledger.money import Money


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def usd(text: str) -> Money:
    return Money(Decimal(text), "USD")


def txn(day: int, *postings: Posting, line_no: int | None = None, desc: str = "t") -> Transaction:
    return Transaction(date(2024, 3, day), desc, postings, "*", line_no)


def test_balanced_transaction_is_returned_unchanged():
    t = txn(1, Posting("expenses:food", eur("42.10")), Posting("assets:cash", eur("-42.10")))
    assert t.totals() == {"EUR": Decimal("0.00")}
    assert t.balanced() is t
    assert t.cleared


def test_missing_amount_receives_the_remainder():
    t = txn(
        1,
        Posting("expenses:food", eur("42.10")),
        Posting("expenses:household", eur("7.90")),
        Posting("assets:cash"),
    )
    filled = t.balanced()
    assert filled.postings[2] == Posting("assets:cash", eur("-50.00"))
    assert Journal().add(t) == filled
    assert filled.totals() == {"EUR": Decimal("0.00")}


def test_unbalanced_transaction_reports_line_and_difference():
    t = txn(
        1, Posting("expenses:food", eur("42.10")), Posting("assets:cash", eur("-42.09")), line_no=7
    )
    with pytest.raises(UnbalancedTransaction) as info:
        t.balanced()
    assert info.value.line_no == 7
    assert str(info.value) == "line 7: transaction does not balance (off by 0.01 EUR)"


@pytest.mark.parametrize(
    "postings, message",
    [
        ((Posting("assets:cash", eur("0")),), "at least two postings"),
        (
            (Posting("expenses:food", eur("1")), Posting("assets:cash"), Posting("assets:bank")),
            "only one posting may omit",
        ),
        (
            (
                Posting("expenses:food", eur("1")),
                Posting("expenses:travel", usd("2")),
                Posting("assets:cash"),
            ),
            "exactly one unbalanced currency",
        ),
        (
            (Posting("expenses:food", eur("0")), Posting("assets:cash")),
            "exactly one unbalanced currency",
        ),
    ],
)
def test_transactions_that_cannot_be_balanced(postings, message):
    with pytest.raises(UnbalancedTransaction, match=message) as info:
        txn(1, *postings).balanced()
    assert info.value.line_no is None
    assert str(info.value) == info.value.message


def test_each_currency_must_balance_separately():
    ok = txn(
        1,
        Posting("assets:eur", eur("-10")),
        Posting("equity:fx", eur("10")),
        Posting("assets:usd", usd("11")),
        Posting("equity:fx", usd("-11")),
    )
    assert ok.balanced() is ok
    bad = txn(1, Posting("assets:eur", eur("-10")), Posting("assets:usd", usd("10")))
    with pytest.raises(UnbalancedTransaction, match=re.escape("(off by -10.00 EUR, 10.00 USD)")):
        bad.balanced()


def test_posting_value_requires_an_amount():
    assert Posting("assets:cash", eur("3")).value == eur("3")
    with pytest.raises(UnbalancedTransaction) as info:
        _ = Posting("assets:cash", line_no=4).value
    assert (info.value.line_no, str(info.value)) == (
        4,
        "line 4: posting to assets:cash has no amount",
    )


def test_journal_iterates_by_date_keeping_file_order_for_ties():
    journal = Journal(
        [
            txn(9, Posting("expenses:a", eur("1")), Posting("assets:cash"), desc="late"),
            txn(2, Posting("expenses:b", eur("1")), Posting("assets:cash"), desc="first"),
            txn(2, Posting("expenses:c", eur("1")), Posting("assets:cash"), desc="second"),
        ]
    )
    assert len(journal) == 3
    assert [t.description for t in journal] == ["first", "second", "late"]
    assert journal.date_range() == Period(date(2024, 3, 2), date(2024, 3, 10))


def test_journal_filters_by_period_and_account(sample_journal):
    march = month_period(2024, 3)
    assert len(sample_journal.between(march)) == 12
    assert [t.date for t in sample_journal.between(month_period(2024, 2))][-1] == date(2024, 2, 29)
    groceries = [p.value for _, p in sample_journal.postings("expenses:food:groceries", march)]
    assert groceries == [eur("142.60"), eur("118.90")]
    assert len(list(sample_journal.postings("expenses:food"))) == 9
    assert sample_journal.accounts()[:3] == [
        "assets:bank:checking",
        "assets:bank:savings",
        "assets:cash",
    ]
    assert len(sample_journal.accounts()) == 13


def test_empty_journal():
    journal = Journal()
    assert len(journal) == 0
    assert journal.date_range() is None
    assert journal.accounts() == []
    assert len(journal.tree()) == 0
