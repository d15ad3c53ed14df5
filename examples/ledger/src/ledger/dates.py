"""Calendar helpers: month arithmetic and reporting periods.

A :class:`Period` is a half-open date range: ``start`` is included and
``end`` is excluded, so consecutive months share a boundary without
overlapping.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

PERIOD_KINDS = ("month", "quarter", "year")

_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
_QUARTER_RE = re.compile(r"(\d{4})-Q([1-4])")
_YEAR_RE = re.compile(r"\d{4}")
_RANGE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})")


def days_in_month(year: int, month: int) -> int:
    """Number of days in the given month."""
    return calendar.monthrange(year, month)[1]


def month_start(day: date) -> date:
    """First day of the month containing *day*."""
    return day.replace(day=1)


def month_end(day: date) -> date:
    """Last day (inclusive) of the month containing *day*."""
    return day.replace(day=days_in_month(day.year, day.month))


def add_months(day: date, months: int) -> date:
    """Shift *day* by *months*, clamping to the last day of a shorter month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    return date(year, month, min(day.day, days_in_month(year, month)))


def quarter_of(day: date) -> int:
    """Quarter number (1-4) that *day* falls in."""
    return (day.month - 1) // 3 + 1


def days_between(start: date, end: date, inclusive: bool = False) -> int:
    """Days from *start* to *end*; counts both ends when *inclusive*."""
    if end < start:
        raise ValueError(f"{end} is before {start}")
    days = (end - start).days
    return days + 1 if inclusive else days


@dataclass(frozen=True)
class Period:
    """A half-open date range ``[start, end)`` with an optional kind."""

    start: date
    end: date
    kind: str = "custom"

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty period {self.start}..{self.end}")

    @property
    def last_day(self) -> date:
        """The last date inside the period."""
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        """Length of the period in days."""
        return (self.end - self.start).days

    def contains(self, day: date) -> bool:
        """True when *day* lies in ``[start, end)``."""
        return self.start <= day < self.end

    def label(self) -> str:
        """Short label: ``2024-03``, ``2024-Q1``, ``2024`` or a date range."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        if self.kind == "quarter":
            return f"{self.start.year}-Q{quarter_of(self.start)}"
        if self.kind == "year":
            return str(self.start.year)
        return f"{self.start}..{self.last_day}"

    def next(self) -> Period:
        """The period of the same kind that directly follows this one."""
        if self.kind not in PERIOD_KINDS:
            return Period(self.end, self.end + timedelta(days=self.days))
        return period_containing(self.end, self.kind)

    def months(self) -> Iterator[Period]:
        """Yield the calendar months overlapping this period, in order."""
        current = month_period(self.start.year, self.start.month)
        while current.start < self.end:
            yield current
            current = current.next()


def month_period(year: int, month: int) -> Period:
    """The calendar month *year*-*month*."""
    start = date(year, month, 1)
    return Period(start, add_months(start, 1), "month")


def quarter_period(year: int, quarter: int) -> Period:
    """Quarter *quarter* (1-4) of *year*."""
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter must be 1-4, not {quarter}")
    start = date(year, 3 * (quarter - 1) + 1, 1)
    return Period(start, add_months(start, 3), "quarter")


def year_period(year: int) -> Period:
    """The calendar year *year*."""
    return Period(date(year, 1, 1), date(year + 1, 1, 1), "year")


def period_containing(day: date, kind: str) -> Period:
    """The month, quarter or year period that contains *day*."""
    if kind == "month":
        return month_period(day.year, day.month)
    if kind == "quarter":
        return quarter_period(day.year, quarter_of(day))
    if kind == "year":
        return year_period(day.year)
    raise ValueError(f"unknown period kind {kind!r}")


def parse_period(text: str) -> Period:
    """Parse ``2024-03``, ``2024-Q1``, ``2024`` or ``2024-03-01..2024-03-15``.

    Both ends of an explicit ``a..b`` range are included.
    """
    text = text.strip()
    if match := _MONTH_RE.fullmatch(text):
        month = int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"invalid month in {text!r}")
        return month_period(int(match[1]), month)
    if match := _QUARTER_RE.fullmatch(text):
        return quarter_period(int(match[1]), int(match[2]))
    if _YEAR_RE.fullmatch(text):
        return year_period(int(text))
    if match := _RANGE_RE.fullmatch(text):
        first = date.fromisoformat(match[1])
        last = date.fromisoformat(match[2])
        return Period(first, last + timedelta(days=1))
    raise ValueError(f"cannot parse period {text!r}")
