from datetime import date
from decimal import Decimal

import pytest

from ledger.budget import Budget
from ledger.dates import month_period, quarter_period
from ledger.errors import CurrencyMismatch
from ledger.journal import Journal
from ledger.money import Money
from ledger.parser import parse_journal
from ledger.reports import (
    BudgetLine,
    balance_report,
    budget_report,
    format_amounts,
    format_table,
    monthly_totals,
    net_worth,
    register,
    top_spending,
)


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def test_balance_report_rolls_up_and_omits_zero_balances(sample_journal):
    rows = {row.account: row for row in balance_report(sample_journal)}
    assert rows["expenses"].amounts == (eur("4123.62"),)
    assert rows["expenses:food"].amounts == (eur("698.90"),)
    assert rows["assets:bank:checking"].amounts == (eur("7333.08"),)
    assert rows["assets:cash"].amounts == (eur("73.30"),)
    assert rows["expenses:food:groceries"].depth == 3
    assert "liabilities" not in rows
    assert "liabilities:creditcard" not in rows


def test_balance_report_depth_limits(sample_journal):
    assert [row.account for row in balance_report(sample_journal, max_depth=1)] == [
        "assets",
        "equity",
        "expenses",
        "income",
    ]
    names = [row.account for row in balance_report(sample_journal, max_depth=2)]
    assert "expenses:food" in names
    assert "expenses:food:groceries" not in names
    assert len(names) == 13
    with pytest.raises(ValueError):
        balance_report(sample_journal, max_depth=0)


def test_balance_report_for_one_month(sample_journal):
    rows = {
        r.account: r.amounts for r in balance_report(sample_journal, period=month_period(2024, 3))
    }
    assert rows["expenses:food"] == (eur("279.90"),)
    assert rows["expenses:utilities:electricity"] == (eur("41.75"),)
    assert rows["liabilities"] == (eur("65.00"),)


def test_balance_report_lists_each_currency():
    journal = parse_journal(
        "2024-01-01 Trip\n  expenses:travel  100 USD\n  assets:cash  -100 USD\n"
        "2024-01-02 Food\n  expenses:food  20 EUR\n  assets:cash\n"
    )
    rows = {r.account: r.amounts for r in balance_report(journal)}
    assert rows["assets"] == (eur("-20"), Money(Decimal(-100), "USD"))
    assert format_amounts(rows["expenses"]) == "20.00 EUR, 100.00 USD"
    assert format_amounts(()) == "0"


def test_register_running_balance(sample_journal):
    rows = register(sample_journal, "expenses:food:groceries")
    assert len(rows) == 6
    assert (rows[0].date, rows[0].amount, rows[0].running) == (
        date(2024, 1, 5),
        eur("64.35"),
        eur("64.35"),
    )
    assert rows[1].running == eur("145.55")
    assert rows[-1].running == eur("530.00")


def test_register_restarts_at_period_start(sample_journal):
    rows = register(sample_journal, "liabilities:creditcard", period=month_period(2024, 2))
    assert [row.amount for row in rows] == [eur("-112.00"), eur("150.50"), eur("-65.00")]
    assert [row.running for row in rows] == [eur("-112.00"), eur("38.50"), eur("-26.50")]
    assert register(Journal(), "assets") == []


def test_register_refuses_mixed_currencies():
    journal = parse_journal(
        "2024-01-01 A\n  assets:cash  5 USD\n  equity:x\n"
        "2024-01-02 B\n  assets:cash  5 EUR\n  equity:x\n"
    )
    with pytest.raises(CurrencyMismatch):
        register(journal, "assets:cash")


def test_monthly_totals(sample_journal):
    totals = monthly_totals(sample_journal, "expenses", quarter_period(2024, 1), "EUR")
    assert [(month.label(), amount) for month, amount in totals] == [
        ("2024-01", eur("1319.44")),
        ("2024-02", eur("1407.04")),
        ("2024-03", eur("1397.14")),
    ]
    april = monthly_totals(sample_journal, "expenses", month_period(2024, 4), "EUR")
    assert april[0][1] == eur("0")


def test_budget_line_status_at_the_limit():
    assert BudgetLine("expenses:x", eur("50"), eur("50.00")).status == "at limit"
    assert BudgetLine("expenses:x", eur("50"), eur("50.01")).status == "over"
    assert BudgetLine("expenses:x", eur("50"), eur("49.99")).status == "under"
    line = BudgetLine("expenses:x", eur("80"), eur("85.50"))
    assert (line.remaining, line.percent) == (eur("-5.50"), Decimal("106.9"))


def test_budget_report_uses_rollover_and_sorts_by_account(sample_journal):
    budgets = [
        Budget("expenses:transport", eur("80")),
        Budget("expenses:food:groceries", eur("150"), rollover=True),
    ]
    lines = budget_report(sample_journal, budgets, month_period(2024, 3))
    assert [(ln.account, ln.budget, ln.actual, ln.status) for ln in lines] == [
        ("expenses:food:groceries", eur("181.50"), eur("261.50"), "over"),
        ("expenses:transport", eur("80"), eur("85.50"), "over"),
    ]
    quarter = budget_report(sample_journal, budgets[:1], quarter_period(2024, 1))
    assert (quarter[0].budget, quarter[0].actual, quarter[0].status) == (
        eur("240"),
        eur("183.50"),
        "under",
    )


def test_top_spending(sample_journal):
    assert top_spending(sample_journal, 3) == [
        ("expenses:rent", eur("2850.00")),
        ("expenses:food", eur("698.90")),
        ("expenses:utilities", eur("302.22")),
    ]
    assert top_spending(sample_journal, 1, max_depth=3, prefix="expenses:food") == [
        ("expenses:food:groceries", eur("530.00")),
    ]
    march = top_spending(sample_journal, 10, period=month_period(2024, 3))
    assert [name for name, _ in march] == [
        "expenses:rent",
        "expenses:food",
        "expenses:transport",
        "expenses:utilities",
    ]
    with pytest.raises(ValueError):
        top_spending(sample_journal, 0)


def test_top_spending_breaks_ties_by_name_and_skips_non_positive_totals():
    tie = parse_journal(
        "2024-01-01 A\n  expenses:b  5 EUR\n  expenses:a  5 EUR\n  expenses:c  -3 EUR\n"
        "  expenses:d  2 EUR\n  expenses:d  -2 EUR\n  expenses:e  0.50 EUR\n  assets:cash\n"
    )
    assert top_spending(tie, 5) == [
        ("expenses:a", eur("5")),
        ("expenses:b", eur("5")),
        ("expenses:e", eur("0.50")),
    ]


def test_net_worth(sample_journal):
    assert net_worth(sample_journal) == {"EUR": eur("12906.38")}
    assert net_worth(sample_journal, month_period(2024, 2)) == {"EUR": eur("1742.96")}


def test_format_table_aligns_columns():
    table = format_table(["Name", "Amount"], [["rent", "950.00"], ["food", "12.5"]], right=[1])
    assert table == "Name  Amount\n----  ------\nrent  950.00\nfood    12.5"
