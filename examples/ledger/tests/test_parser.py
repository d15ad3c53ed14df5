from datetime import date
from decimal import Decimal

import pytest

from ledger.errors import ParseError, UnbalancedTransaction
from ledger.money import Money
from ledger.parser import parse_file, parse_journal, strip_comment


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def test_small_journal_headers_and_status(small_journal):
    first, second, third = small_journal
    assert (first.date, first.description, first.status) == (date(2024, 2, 28), "Salary", "")
    assert (second.description, second.status, second.line_no) == ("Groceries", "*", 2)
    assert (third.description, third.status) == ("Train ticket", "!")
    assert not third.cleared


def test_posting_without_amount_is_filled_and_keeps_line_numbers(small_journal):
    groceries = list(small_journal)[1]
    assert [(p.account, p.value, p.line_no) for p in groceries.postings] == [
        ("expenses:food:groceries", eur("42.10"), 3),
        ("assets:bank:checking", eur("-42.10"), 4),
    ]
    assert next(iter(small_journal)).postings[0].value == eur("1500.00")


def test_comments_and_blank_lines_are_ignored():
    assert strip_comment("  expenses:food  3 EUR ; lunch") == "  expenses:food  3 EUR"
    assert strip_comment("; whole line") == ""
    assert len(parse_journal("; nothing here\n\n# nor here\n")) == 0


def test_bare_amounts_use_the_default_currency_and_tabs_separate():
    text = "2024-01-02 * Coffee\n\texpenses:food\t3.20\n\tassets:cash\n"
    journal = parse_journal(text, default_currency="USD")
    assert next(iter(journal)).postings[1].value == Money(Decimal("-3.20"), "USD")


def test_header_fields_may_be_separated_by_tabs_and_runs_of_spaces():
    txn = next(iter(parse_journal("2024-01-02\t!   Coffee  beans\n  a:b  1 EUR\n  c:d\n")))
    assert (txn.date, txn.status, txn.description) == (date(2024, 1, 2), "!", "Coffee  beans")


def test_custom_date_format_and_status_only_with_space():
    text = "02.01.2024 *Star Coffee\n  expenses:food  3 EUR\n  assets:cash\n"
    txn = next(iter(parse_journal(text, date_format="%d.%m.%Y")))
    assert (txn.date, txn.status, txn.description) == (date(2024, 1, 2), "", "*Star Coffee")


@pytest.mark.parametrize(
    "text, line_no, message",
    [
        ("\n\n2024-13-01 * Bad\n  a:b  1 EUR\n  c:d\n", 3, "invalid date '2024-13-01'"),
        ("  expenses:food  1 EUR\n", 1, "posting outside of a transaction"),
        ("2024-01-01 *\n  a:b  1 EUR\n  c:d\n", 1, "transaction has no description"),
        ("2024-01-01\n  a:b  1 EUR\n  c:d\n", 1, "transaction has no description"),
        ("2024-01-01 Pay\n  a:b  1,00 EUR\n  c:d\n", 2, "cannot parse amount '1,00 EUR'"),
        ("2024-01-01 Pay\n  a:b  1 EUR\n  c::d\n", 3, "invalid account name 'c::d'"),
    ],
)
def test_parse_errors_carry_line_numbers(text, line_no, message):
    with pytest.raises(ParseError) as info:
        parse_journal(text)
    assert info.value.line_no == line_no
    assert str(info.value) == f"line {line_no}: {message}"


def test_unbalanced_transaction_points_at_its_header():
    text = "2024-01-01 Ok\n  a:b  1 EUR\n  c:d\n\n2024-01-02 Broken\n  a:b  1 EUR\n  c:d  -2 EUR\n"
    with pytest.raises(UnbalancedTransaction) as info:
        parse_journal(text)
    assert info.value.line_no == 5


def test_parse_file_names_the_source(write_file):
    path = write_file("bad.journal", "2024-01-01 Pay\n  a:b  x\n  c:d\n")
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert str(info.value) == f"{path}:2: cannot parse amount 'x'"


def test_sample_journal_loads_completely(sample_journal):
    assert len(sample_journal) == 33
    assert sample_journal.date_range().start == date(2024, 1, 1)
    assert sample_journal.date_range().last_day == date(2024, 3, 31)
