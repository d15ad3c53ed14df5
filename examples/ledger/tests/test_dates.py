from datetime import date

import pytest

from ledger.dates import (
    Period,
    add_months,
    days_between,
    days_in_month,
    month_end,
    month_period,
    month_start,
    parse_period,
    period_containing,
    quarter_of,
    quarter_period,
    year_period,
)


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 15), -1, date(2023, 12, 15)),
        (date(2024, 3, 31), -1, date(2024, 2, 29)),
        (date(2024, 11, 30), 14, date(2026, 1, 30)),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_calendar_helpers():
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2023, 2) == 28
    assert month_start(date(2024, 3, 17)) == date(2024, 3, 1)
    assert month_end(date(2024, 4, 2)) == date(2024, 4, 30)
    assert month_end(date(2024, 12, 31)) == date(2024, 12, 31)
    assert [quarter_of(date(2024, m, 1)) for m in (1, 3, 4, 6, 7, 9, 10, 12)] == [
        1,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
    ]


def test_days_between_exclusive_and_inclusive():
    assert days_between(date(2024, 3, 1), date(2024, 3, 31)) == 30
    assert days_between(date(2024, 3, 1), date(2024, 3, 31), inclusive=True) == 31
    assert days_between(date(2024, 3, 1), date(2024, 3, 1)) == 0
    assert days_between(date(2024, 3, 1), date(2024, 3, 1), inclusive=True) == 1
    with pytest.raises(ValueError):
        days_between(date(2024, 3, 2), date(2024, 3, 1))


def test_month_period_includes_start_and_excludes_end():
    march = month_period(2024, 3)
    assert march.contains(date(2024, 3, 1))
    assert march.contains(date(2024, 3, 31))
    assert not march.contains(date(2024, 4, 1))
    assert not march.contains(date(2024, 2, 29))
    assert march.last_day == date(2024, 3, 31)
    assert march.days == 31
    assert march.label() == "2024-03"
    with pytest.raises(ValueError, match="empty period"):
        Period(date(2024, 3, 4), date(2024, 3, 4))


def test_quarter_year_and_containing_periods():
    q1 = quarter_period(2024, 1)
    assert (q1.start, q1.end, q1.days) == (date(2024, 1, 1), date(2024, 4, 1), 91)
    assert quarter_period(2024, 4).end == date(2025, 1, 1)
    assert quarter_period(2024, 3).label() == "2024-Q3"
    assert year_period(2024).days == 366
    assert year_period(2023).label() == "2023"
    for bad in (0, 5):
        with pytest.raises(ValueError):
            quarter_period(2024, bad)
    day = date(2024, 5, 20)
    assert period_containing(day, "month") == month_period(2024, 5)
    assert period_containing(day, "quarter") == quarter_period(2024, 2)
    assert period_containing(day, "year") == year_period(2024)
    with pytest.raises(ValueError):
        period_containing(day, "week")


def test_parse_period_forms():
    assert parse_period("2024-03") == month_period(2024, 3)
    assert parse_period("2024-01").start == date(2024, 1, 1)
    assert parse_period("2024-12").end == date(2025, 1, 1)
    assert parse_period("2024-Q2").start == date(2024, 4, 1)
    assert parse_period(" 2025 ") == year_period(2025)
    custom = parse_period("2024-03-01..2024-03-15")
    assert custom.contains(date(2024, 3, 15))
    assert not custom.contains(date(2024, 3, 16))
    assert custom.days == 15
    assert custom.label() == "2024-03-01..2024-03-15"


@pytest.mark.parametrize(
    "text", ["2024-13", "2024-00", "2024-Q5", "March", "2024-03-05..2024-03-01"]
)
def test_parse_period_rejects_invalid_text(text):
    with pytest.raises(ValueError):
        parse_period(text)


def test_next_period_crosses_year_end():
    assert month_period(2024, 12).next() == month_period(2025, 1)
    assert quarter_period(2024, 4).next() == quarter_period(2025, 1)
    week = Period(date(2024, 3, 4), date(2024, 3, 11))
    assert week.next() == Period(date(2024, 3, 11), date(2024, 3, 18))


def test_months_of_a_period_include_partial_months():
    assert [m.label() for m in quarter_period(2024, 1).months()] == [
        "2024-01",
        "2024-02",
        "2024-03",
    ]
    partial = Period(date(2024, 1, 15), date(2024, 3, 2))
    assert [m.label() for m in partial.months()] == ["2024-01", "2024-02", "2024-03"]
    assert [m.label() for m in Period(date(2024, 1, 15), date(2024, 3, 1)).months()] == [
        "2024-01",
        "2024-02",
    ]
