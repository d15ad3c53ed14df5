"""Monthly budgets per account, rollover of unused amounts, and alerts.

Budget files hold one budget per line::

    ; account                  monthly amount   options
    expenses:food:groceries    400.00 EUR       rollover
    expenses:transport         80 EUR
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from .accounts import split_name
from .dates import Period, year_period
from .errors import CurrencyMismatch, LedgerError, ParseError
from .journal import Journal
from .money import Money
from .parser import strip_comment

PERCENT_STEP = Decimal("0.1")
_FIELD_SPLIT = re.compile(r"\s{2,}|\t")
OPTIONS = ("rollover",)

LEVEL_WARNING = "warning"
LEVEL_OVER = "over"


@dataclass(frozen=True)
class Budget:
    """A monthly spending limit for an account and its sub-accounts."""

    account: str
    amount: Money
    rollover: bool = False

    def __post_init__(self) -> None:
        split_name(self.account)
        if self.amount.amount <= 0:
            raise LedgerError(f"budget for {self.account} must be positive")


def parse_budgets(text: str, default_currency: str = "EUR") -> list[Budget]:
    """Parse budget-file *text*; duplicate accounts are rejected."""
    budgets: list[Budget] = []
    seen: set[str] = set()
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw).strip()
        if not line or line.startswith("#"):
            continue
        budget = _parse_budget_line(line, line_no, default_currency)
        if budget.account in seen:
            raise ParseError(line_no, f"duplicate budget for {budget.account}")
        seen.add(budget.account)
        budgets.append(budget)
    return budgets


def _parse_budget_line(line: str, line_no: int, default_currency: str) -> Budget:
    fields = _FIELD_SPLIT.split(line)
    if len(fields) < 2:
        raise ParseError(line_no, "expected an account and an amount")
    options = fields[2:]
    unknown = [opt for opt in options if opt not in OPTIONS]
    if unknown:
        raise ParseError(line_no, f"unknown option {unknown[0]!r}")
    try:
        amount = Money.parse(fields[1], default_currency)
        return Budget(fields[0], amount, rollover="rollover" in options)
    except LedgerError as exc:
        raise ParseError(line_no, str(exc)) from None


def load_budgets(path: str | Path, default_currency: str = "EUR") -> list[Budget]:
    """Read and parse the budget file at *path*."""
    return parse_budgets(Path(path).read_text(encoding="utf-8"), default_currency)


def spent(journal: Journal, account: str, period: Period, currency: str) -> Money:
    """Net amount posted to *account* (and sub-accounts) within *period*."""
    total = Money.zero(currency)
    for _, posting in journal.postings(account, period):
        total = total + posting.value
    return total


def carried_over(
    budget: Budget, journal: Journal, period: Period, since: Period | None = None
) -> Money:
    """Unused budget carried into *period* from the months since *since*.

    Only budgets with ``rollover`` carry anything.  Overspending in a month
    uses up the carry but never makes it negative.  *since* defaults to the
    calendar year of *period*.
    """
    currency = budget.amount.currency
    carry = Money.zero(currency)
    if not budget.rollover:
        return carry
    start = since if since is not None else year_period(period.start.year)
    for month in start.months():
        if month.start >= period.start:
            break
        left = carry + budget.amount - spent(journal, budget.account, month, currency)
        carry = max(left, Money.zero(currency))
    return carry


def month_count(period: Period) -> int:
    """Number of calendar months that *period* touches."""
    return sum(1 for _ in period.months())


def available(
    budget: Budget, journal: Journal, period: Period, since: Period | None = None
) -> Money:
    """Budget for *period*: the monthly amount times the months it spans,
    plus any amount rolled over from earlier months."""
    return budget.amount * month_count(period) + carried_over(budget, journal, period, since)


def percent_used(actual: Money, limit: Money) -> Decimal:
    """``actual / limit`` as a percentage rounded half-up to one decimal."""
    if limit.amount <= 0:
        raise ValueError("limit must be positive")
    if actual.currency != limit.currency:
        raise CurrencyMismatch(actual.currency, limit.currency)
    ratio = actual.amount / limit.amount
    return (ratio * 100).quantize(PERCENT_STEP, rounding=ROUND_HALF_UP)


def alert_level(percent: Decimal, threshold: Decimal) -> str | None:
    """``"over"`` above 100 %, ``"warning"`` at or above *threshold*, else None."""
    if percent > 100:
        return LEVEL_OVER
    if percent >= threshold:
        return LEVEL_WARNING
    return None


@dataclass(frozen=True)
class Alert:
    """A budget whose usage crossed the alert threshold."""

    account: str
    percent: Decimal
    level: str

    @property
    def message(self) -> str:
        """Human-readable description of the alert."""
        return f"{self.account}: {self.percent}% of budget used ({self.level})"


def check_alerts(usage: dict[str, Decimal], threshold: Decimal) -> list[Alert]:
    """Alerts for every account in *usage* (account → percent), sorted by name."""
    alerts = []
    for account in sorted(usage):
        level = alert_level(usage[account], threshold)
        if level is not None:
            alerts.append(Alert(account, usage[account], level))
    return alerts
