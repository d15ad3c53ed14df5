from decimal import Decimal

import pytest

from ledger.errors import CurrencyMismatch, InvalidAmount
from ledger.money import Money, sum_money


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-12.50 EUR", Money(Decimal("-12.50"), "EUR")),
        ("$3", Money(Decimal(3), "USD")),
        ("-$3.00", Money(Decimal("-3"), "USD")),
        ("1,234.56 EUR", Money(Decimal("1234.56"), "EUR")),
        ("£.5", Money(Decimal("0.5"), "GBP")),
    ],
)
def test_parse_accepts_codes_symbols_and_thousands(text, expected):
    assert Money.parse(text) == expected


def test_parse_bare_number_needs_default_currency():
    assert Money.parse("7.25", default_currency="CHF") == Money(Decimal("7.25"), "CHF")
    with pytest.raises(InvalidAmount, match="no currency"):
        Money.parse("7.25")


@pytest.mark.parametrize("text", ["$3 EUR", "12,34 EUR", "abc", "12.50 eur", ""])
def test_parse_rejects_malformed_amounts(text):
    with pytest.raises(InvalidAmount):
        Money.parse(text, default_currency="EUR")


def test_constructor_validates_currency_and_refuses_floats():
    assert Money("2.50", "EUR").amount == Decimal("2.50")
    with pytest.raises(InvalidAmount):
        Money(Decimal(1), "euro")
    with pytest.raises(InvalidAmount):
        Money(0.1, "EUR")


def test_addition_and_subtraction_require_same_currency():
    assert eur("10.10") + eur("0.95") == eur("11.05")
    assert eur("10.10") - eur("0.95") == eur("9.15")
    assert sum_money([], "EUR") == eur("0")
    assert sum_money([eur("1.10"), eur("2.20"), eur("-0.30")], "EUR") == eur("3.00")
    with pytest.raises(CurrencyMismatch, match="cannot combine EUR with USD") as info:
        eur("1") + Money(Decimal(1), "USD")
    assert (info.value.left, info.value.right) == ("EUR", "USD")
    with pytest.raises(TypeError):
        eur("1") + 1
    with pytest.raises(TypeError):
        eur("1") - 1


def test_multiplication_negation_and_abs():
    assert eur("2.50") * 3 == eur("7.50")
    assert 2 * eur("-1.25") == eur("-2.50")
    assert eur("2.50") * Decimal("0.5") == eur("1.25")
    assert -eur("4") == eur("-4")
    assert abs(eur("-4.20")) == eur("4.20")
    with pytest.raises(TypeError):
        eur("1") * eur("2")


def test_comparisons_and_sign_predicates():
    assert eur("1.00") < eur("1.01")
    assert not eur("1.00") < eur("1")
    assert eur("1.00") <= eur("1")
    assert eur("1.01") > eur("1.00")
    assert eur("1.00") >= eur("1.00")
    assert not eur("0.99") >= eur("1.00")
    with pytest.raises(CurrencyMismatch):
        _ = eur("1") < Money(Decimal(2), "USD")
    with pytest.raises(TypeError):
        _ = eur("1") < 2
    assert eur("0.00").is_zero()
    assert not eur("0.01").is_zero()
    assert eur("-0.01").is_negative()
    assert not eur("0").is_negative()


@pytest.mark.parametrize(
    "amount, half_up, half_even",
    [
        ("0.005", "0.01", "0.00"),
        ("0.015", "0.02", "0.02"),
        ("0.025", "0.03", "0.02"),
        ("-0.005", "-0.01", "0.00"),
        ("2.344", "2.34", "2.34"),
    ],
)
def test_rounding_half_up_versus_half_even(amount, half_up, half_even):
    assert eur(amount).round() == eur(half_up)
    assert eur(amount).round("half_even") == eur(half_even)
    with pytest.raises(ValueError, match="unknown rounding mode"):
        eur(amount).round("down")


@pytest.mark.parametrize(
    "amount, separator, expected",
    [
        ("1234.5", ",", "1,234.50 EUR"),
        ("-1234567.891", ",", "-1,234,567.89 EUR"),
        ("999.995", ",", "1,000.00 EUR"),
        ("-0.004", ",", "0.00 EUR"),
        ("0", ",", "0.00 EUR"),
        ("1234567", " ", "1 234 567.00 EUR"),
    ],
)
def test_format_rounds_and_groups_thousands(amount, separator, expected):
    assert eur(amount).format(separator=separator) == expected
    if separator == ",":
        assert str(eur(amount)) == expected


def test_split_distributes_leftover_cents_to_first_parts():
    assert eur("10.00").split(3) == [eur("3.34"), eur("3.33"), eur("3.33")]
    assert eur("-0.05").split(2) == [eur("-0.03"), eur("-0.02")]
    assert eur("7.00").split(1) == [eur("7.00")]
    with pytest.raises(ValueError):
        eur("1").split(0)
