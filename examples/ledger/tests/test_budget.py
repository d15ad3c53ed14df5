from decimal import Decimal

import pytest

from ledger.budget import (
    Alert,
    Budget,
    alert_level,
    available,
    carried_over,
    check_alerts,
    load_budgets,
    month_count,
    parse_budgets,
    percent_used,
    spent,
)
from ledger.dates import Period, month_period, quarter_period
from ledger.errors import CurrencyMismatch, LedgerError, ParseError
from ledger.money import Money


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def test_parse_budgets(budget_path):
    budgets = load_budgets(budget_path)
    assert len(budgets) == 5
    assert budgets[0] == Budget("expenses:food:groceries", eur("150.00"), rollover=True)
    assert budgets[1] == Budget("expenses:food:restaurants", eur("50"), rollover=False)
    assert Budget("expenses:a", eur("0.01")).amount == eur("0.01")
    with pytest.raises(LedgerError, match="must be positive"):
        Budget("expenses:a", eur("-5"))


def test_parse_budgets_default_currency_and_comments():
    budgets = parse_budgets("# header\nexpenses:rent\t900 ; fixed\n", default_currency="CHF")
    assert budgets == [Budget("expenses:rent", Money(Decimal(900), "CHF"))]


@pytest.mark.parametrize(
    "text, line_no, message",
    [
        ("expenses:a  1 EUR\n\nexpenses:a  2 EUR\n", 3, "duplicate budget for expenses:a"),
        ("expenses:a  1 EUR  weekly\n", 1, "unknown option 'weekly'"),
        ("expenses:a\n", 1, "expected an account and an amount"),
        ("expenses:a  0 EUR\n", 1, "budget for expenses:a must be positive"),
        ("expenses:a  lots\n", 1, "cannot parse amount 'lots'"),
    ],
)
def test_parse_budget_errors(text, line_no, message):
    with pytest.raises(ParseError) as info:
        parse_budgets(text)
    assert str(info.value) == f"line {line_no}: {message}"


def test_spent_sums_sub_accounts_within_the_period(sample_journal):
    assert spent(sample_journal, "expenses:food:groceries", month_period(2024, 2), "EUR") == eur(
        "122.95"
    )
    assert spent(sample_journal, "expenses:food", month_period(2024, 1), "EUR") == eur("184.05")
    assert spent(sample_journal, "expenses:utilities", month_period(2024, 3), "EUR") == eur("81.74")


def test_rollover_carries_unused_amounts(sample_journal):
    groceries = Budget("expenses:food:groceries", eur("150"), rollover=True)
    assert carried_over(groceries, sample_journal, month_period(2024, 1)) == eur("0")
    assert carried_over(groceries, sample_journal, month_period(2024, 2)) == eur("4.45")
    assert carried_over(groceries, sample_journal, month_period(2024, 3)) == eur("31.50")
    since_feb = month_period(2024, 2)
    assert carried_over(groceries, sample_journal, month_period(2024, 3), since_feb) == eur("27.05")
    assert available(groceries, sample_journal, month_period(2024, 3)) == eur("181.50")


def test_overspending_never_makes_the_carry_negative(sample_journal):
    tight = Budget("expenses:food:groceries", eur("130"), rollover=True)
    assert carried_over(tight, sample_journal, month_period(2024, 2)) == eur("0")
    assert carried_over(tight, sample_journal, month_period(2024, 3)) == eur("7.05")


def test_without_rollover_nothing_is_carried_and_months_multiply(sample_journal):
    transport = Budget("expenses:transport", eur("80"))
    assert carried_over(transport, sample_journal, month_period(2024, 3)) == eur("0")
    assert available(transport, sample_journal, month_period(2024, 3)) == eur("80")
    assert available(transport, sample_journal, quarter_period(2024, 1)) == eur("240")
    assert month_count(month_period(2024, 2)) == 1
    assert month_count(quarter_period(2024, 2)) == 3
    assert month_count(Period(month_period(2024, 1).start, month_period(2024, 2).last_day)) == 2


@pytest.mark.parametrize(
    "actual, limit, expected",
    [
        ("49", "80", "61.3"),
        ("80", "80", "100.0"),
        ("0", "60", "0.0"),
        ("0.05", "100", "0.1"),
        ("-20", "100", "-20.0"),
        ("0.5", "1", "50.0"),
    ],
)
def test_percent_used_rounds_half_up_to_one_decimal(actual, limit, expected):
    assert percent_used(eur(actual), eur(limit)) == Decimal(expected)


def test_percent_used_rejects_bad_limits():
    with pytest.raises(ValueError):
        percent_used(eur("1"), eur("0"))
    with pytest.raises(CurrencyMismatch, match="cannot combine USD with EUR"):
        percent_used(Money(Decimal(1), "USD"), eur("10"))


@pytest.mark.parametrize(
    "percent, level",
    [("79.9", None), ("80", "warning"), ("100", "warning"), ("100.1", "over")],
)
def test_alert_level_boundaries(percent, level):
    assert alert_level(Decimal(percent), Decimal(80)) == level


def test_check_alerts_sorted_with_messages():
    usage = {
        "expenses:z": Decimal("120.0"),
        "expenses:a": Decimal("85.5"),
        "expenses:m": Decimal("10"),
    }
    alerts = check_alerts(usage, Decimal(80))
    assert alerts == [
        Alert("expenses:a", Decimal("85.5"), "warning"),
        Alert("expenses:z", Decimal("120.0"), "over"),
    ]
    assert alerts[1].message == "expenses:z: 120.0% of budget used (over)"
