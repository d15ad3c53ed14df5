"""Reports computed from a journal: balances, registers, monthly totals,
budget versus actual, and top spending categories."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from .accounts import add_into, depth, truncate
from .budget import Budget, available, percent_used, spent
from .dates import Period
from .journal import Journal
from .money import Money

STATUS_OVER = "over"
STATUS_AT_LIMIT = "at limit"
STATUS_UNDER = "under"


@dataclass(frozen=True)
class BalanceRow:
    """Rolled-up balance of one account, one amount per non-zero currency."""

    account: str
    depth: int
    amounts: tuple[Money, ...]


def balance_report(
    journal: Journal, max_depth: int | None = None, period: Period | None = None
) -> list[BalanceRow]:
    """Balances of every account down to *max_depth*, zero balances omitted."""
    if max_depth is not None and max_depth < 1:
        raise ValueError("depth must be at least 1")
    rows = []
    for name, totals in journal.tree(period).balances(max_depth).items():
        amounts = tuple(totals[cur] for cur in sorted(totals) if not totals[cur].is_zero())
        if amounts:
            rows.append(BalanceRow(name, depth(name), amounts))
    return rows


@dataclass(frozen=True)
class RegisterRow:
    """One posting in a register, with the running balance after it."""

    date: date
    description: str
    account: str
    amount: Money
    running: Money


def register(journal: Journal, account: str, period: Period | None = None) -> list[RegisterRow]:
    """Postings to *account* and its sub-accounts with a running balance.

    The running balance starts at zero at the beginning of *period*.
    """
    rows: list[RegisterRow] = []
    running: Money | None = None
    for txn, posting in journal.postings(account, period):
        amount = posting.value
        running = amount if running is None else running + amount
        rows.append(RegisterRow(txn.date, txn.description, posting.account, amount, running))
    return rows


def monthly_totals(
    journal: Journal, account: str, period: Period, currency: str
) -> list[tuple[Period, Money]]:
    """Net amount posted to *account* in each month of *period*."""
    return [(month, spent(journal, account, month, currency)) for month in period.months()]


@dataclass(frozen=True)
class BudgetLine:
    """Budget versus actual spending for one account over a period."""

    account: str
    budget: Money
    actual: Money

    @property
    def remaining(self) -> Money:
        """Budget left; negative when overspent."""
        return self.budget - self.actual

    @property
    def percent(self) -> Decimal:
        """Share of the budget used, in percent."""
        return percent_used(self.actual, self.budget)

    @property
    def status(self) -> str:
        """``"over"``, ``"at limit"`` or ``"under"``."""
        if self.actual > self.budget:
            return STATUS_OVER
        if self.actual == self.budget:
            return STATUS_AT_LIMIT
        return STATUS_UNDER


def budget_report(
    journal: Journal, budgets: Iterable[Budget], period: Period, since: Period | None = None
) -> list[BudgetLine]:
    """Compare every budget with actual spending in *period*, sorted by account."""
    lines = []
    for budget in sorted(budgets, key=lambda b: b.account):
        limit = available(budget, journal, period, since)
        actual = spent(journal, budget.account, period, budget.amount.currency)
        lines.append(BudgetLine(budget.account, limit, actual))
    return lines


def top_spending(
    journal: Journal,
    n: int,
    period: Period | None = None,
    prefix: str = "expenses",
    max_depth: int = 2,
) -> list[tuple[str, Money]]:
    """The *n* largest positive totals under *prefix*, grouped at *max_depth*.

    Ties are broken by account name.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    totals: dict[str, Money] = {}
    for _, posting in journal.postings(prefix, period):
        key = truncate(posting.account, max_depth)
        totals[key] = totals[key] + posting.value if key in totals else posting.value
    ranked = sorted(
        (item for item in totals.items() if item[1].amount > 0),
        key=lambda item: (-item[1].amount, item[0]),
    )
    return ranked[:n]


def net_worth(journal: Journal, period: Period | None = None) -> dict[str, Money]:
    """Assets plus liabilities, per currency."""
    totals: dict[str, Money] = {}
    for root in ("assets", "liabilities"):
        for _, posting in journal.postings(root, period):
            add_into(totals, posting.value)
    return totals


def format_amounts(amounts: Iterable[Money]) -> str:
    """Comma-separated formatted amounts, or ``0`` when there are none."""
    return ", ".join(str(amount) for amount in amounts) or "0"


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()
) -> str:
    """Render an aligned text table; columns listed in *right* are right-aligned."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]

    def render(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    separator = "  ".join("-" * width for width in widths)
    return "\n".join([render(headers), separator, *(render(row) for row in rows)])
