"""Exact monetary amounts with a currency, built on :class:`decimal.Decimal`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import total_ordering

from .errors import CurrencyMismatch, InvalidAmount

CENT = Decimal("0.01")

#: Currency symbols accepted by :meth:`Money.parse` in front of a number.
SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}

#: Rounding modes accepted by :meth:`Money.round`.
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_AMOUNT_RE = re.compile(
    r"""
    (?P<sign>-)?\s*
    (?P<symbol>[$€£])?\s*
    (?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
    (?:\s*(?P<code>[A-Z]{3}))?
    """,
    re.VERBOSE,
)


@total_ordering
@dataclass(frozen=True)
class Money:
    """An immutable amount of money in one currency.

    Arithmetic between two values requires equal currencies and raises
    :class:`~ledger.errors.CurrencyMismatch` otherwise.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not _CURRENCY_RE.fullmatch(self.currency):
            raise InvalidAmount(f"invalid currency code {self.currency!r}")
        if not isinstance(self.amount, Decimal):
            object.__setattr__(self, "amount", _to_decimal(self.amount))

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Return a zero amount in *currency*."""
        return cls(Decimal(0), currency)

    @classmethod
    def parse(cls, text: str, default_currency: str | None = None) -> Money:
        """Parse strings such as ``"-12.50 EUR"``, ``"$3"`` or ``"1,234.56"``.

        A bare number takes *default_currency*; a symbol and a code that
        disagree are rejected.
        """
        match = _AMOUNT_RE.fullmatch(text.strip())
        if match is None:
            raise InvalidAmount(f"cannot parse amount {text!r}")
        symbol_currency = SYMBOLS.get(match["symbol"] or "")
        code = match["code"]
        if symbol_currency and code and symbol_currency != code:
            raise InvalidAmount(f"symbol and currency disagree in {text!r}")
        currency = code or symbol_currency or default_currency
        if currency is None:
            raise InvalidAmount(f"no currency given in {text!r}")
        number = Decimal(match["number"].replace(",", ""))
        return cls(-number if match["sign"] else number, currency)

    def _check(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, (int, Decimal)):
            return NotImplemented
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._check(other)
        return self.amount < other.amount

    def is_zero(self) -> bool:
        """True when the amount is exactly zero."""
        return self.amount == 0

    def is_negative(self) -> bool:
        """True when the amount is below zero."""
        return self.amount < 0

    def round(self, mode: str = "half_up") -> Money:
        """Round to whole cents using ``"half_up"`` or ``"half_even"``."""
        try:
            rounding = ROUNDING_MODES[mode]
        except KeyError:
            raise ValueError(f"unknown rounding mode {mode!r}") from None
        return Money(self.amount.quantize(CENT, rounding=rounding), self.currency)

    def split(self, parts: int) -> list[Money]:
        """Divide into *parts* amounts that differ by at most one cent.

        The leftover cents go to the first parts, so the pieces always add up
        to the rounded original.
        """
        if parts < 1:
            raise ValueError("parts must be at least 1")
        if self.is_negative():
            return [-part for part in (-self).split(parts)]
        cents = int(self.round().amount * 100)
        base, extra = divmod(cents, parts)
        return [
            Money(Decimal(base + 1 if i < extra else base) / 100, self.currency)
            for i in range(parts)
        ]

    def format(self, separator: str = ",") -> str:
        """Format as ``"1,234.56 EUR"`` with *separator* between thousands."""
        rounded = self.round().amount
        digits = f"{abs(rounded):,.2f}".replace(",", separator)
        sign = "-" if rounded < 0 else ""
        return f"{sign}{digits} {self.currency}"

    def __str__(self) -> str:
        return self.format()


def _to_decimal(value: object) -> Decimal:
    """Convert an int or numeric string to Decimal; floats are refused."""
    if isinstance(value, (float, bool)):
        raise InvalidAmount(f"refusing inexact amount {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise InvalidAmount(f"not a number: {value!r}") from None


def sum_money(values: list[Money], currency: str) -> Money:
    """Add *values* starting from zero in *currency*."""
    total = Money.zero(currency)
    for value in values:
        total = total + value
    return total
