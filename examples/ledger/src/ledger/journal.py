"""Transactions, postings and the journal that holds them.

Every transaction must balance: for each currency its postings sum to zero.
At most one posting may leave its amount out; it then receives whatever
amount makes the transaction balance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from .accounts import AccountTree, is_under, split_name
from .dates import Period
from .errors import UnbalancedTransaction
from .money import Money

#: Transaction status markers as written in journal files.
STATUS_CLEARED = "*"
STATUS_PENDING = "!"
STATUS_UNCLEARED = ""


@dataclass(frozen=True)
class Posting:
    """One line of a transaction: an account and (usually) an amount."""

    account: str
    amount: Money | None = None
    line_no: int | None = None

    def __post_init__(self) -> None:
        split_name(self.account)

    @property
    def value(self) -> Money:
        """The amount, which every posting has once its transaction is balanced."""
        if self.amount is None:
            raise UnbalancedTransaction(f"posting to {self.account} has no amount", self.line_no)
        return self.amount


@dataclass(frozen=True)
class Transaction:
    """A dated, described group of postings that must balance."""

    date: date
    description: str
    postings: tuple[Posting, ...] = field(default_factory=tuple)
    status: str = STATUS_UNCLEARED
    line_no: int | None = None

    @property
    def cleared(self) -> bool:
        """True for transactions marked with ``*``."""
        return self.status == STATUS_CLEARED

    def totals(self) -> dict[str, Decimal]:
        """Sum of the explicit posting amounts, per currency."""
        sums: dict[str, Decimal] = {}
        for posting in self.postings:
            if posting.amount is not None:
                currency = posting.amount.currency
                sums[currency] = sums.get(currency, Decimal(0)) + posting.amount.amount
        return sums

    def balanced(self) -> Transaction:
        """Return a copy with the missing amount filled in, or raise.

        Raises :class:`UnbalancedTransaction` when there are fewer than two
        postings, more than one posting without an amount, or when the
        explicit amounts do not sum to zero per currency.
        """
        if len(self.postings) < 2:
            raise UnbalancedTransaction("a transaction needs at least two postings", self.line_no)
        missing = [p for p in self.postings if p.amount is None]
        if len(missing) > 1:
            raise UnbalancedTransaction("only one posting may omit its amount", self.line_no)
        residual = {cur: value for cur, value in self.totals().items() if value != 0}
        if not missing:
            if residual:
                raise UnbalancedTransaction(
                    f"transaction does not balance (off by {_describe(residual)})", self.line_no
                )
            return self
        return self._fill(missing[0], residual)

    def _fill(self, blank: Posting, residual: dict[str, Decimal]) -> Transaction:
        """Give *blank* the amount that cancels the single-currency *residual*."""
        if len(residual) != 1:
            raise UnbalancedTransaction(
                "cannot infer the missing amount: need exactly one unbalanced currency",
                self.line_no,
            )
        ((currency, value),) = residual.items()
        filled = replace(blank, amount=Money(-value, currency))
        postings = tuple(filled if p is blank else p for p in self.postings)
        return replace(self, postings=postings)


def _describe(residual: dict[str, Decimal]) -> str:
    return ", ".join(str(Money(value, cur)) for cur, value in sorted(residual.items()))


class Journal:
    """An ordered collection of balanced transactions."""

    def __init__(self, transactions: Iterable[Transaction] = ()) -> None:
        self._transactions: list[Transaction] = []
        for txn in transactions:
            self.add(txn)

    def add(self, txn: Transaction) -> Transaction:
        """Balance *txn* and append it; returns the stored transaction."""
        stored = txn.balanced()
        self._transactions.append(stored)
        return stored

    def __len__(self) -> int:
        return len(self._transactions)

    def __iter__(self) -> Iterator[Transaction]:
        """Iterate in date order; same-day transactions keep file order."""
        return iter(sorted(self._transactions, key=lambda txn: txn.date))

    def between(self, period: Period) -> list[Transaction]:
        """Transactions dated inside *period*."""
        return [txn for txn in self if period.contains(txn.date)]

    def postings(
        self, account: str | None = None, period: Period | None = None
    ) -> Iterator[tuple[Transaction, Posting]]:
        """Yield ``(transaction, posting)`` pairs, optionally filtered."""
        for txn in self if period is None else self.between(period):
            for posting in txn.postings:
                if account is None or is_under(posting.account, account):
                    yield txn, posting

    def accounts(self) -> list[str]:
        """Sorted names of every account that has a posting."""
        return sorted({posting.account for _, posting in self.postings()})

    def date_range(self) -> Period | None:
        """Period from the first to the last transaction date, or ``None``."""
        if not self._transactions:
            return None
        dates = [txn.date for txn in self._transactions]
        return Period(min(dates), max(dates) + timedelta(days=1))

    def tree(self, period: Period | None = None) -> AccountTree:
        """Build an :class:`AccountTree` from the postings (inside *period*)."""
        tree = AccountTree()
        for _, posting in self.postings(period=period):
            tree.post(posting.account, posting.value)
        return tree
