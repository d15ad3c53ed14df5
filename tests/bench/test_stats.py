"""Rates with Wilson intervals and the paired comparison, against hand-computed values."""

from __future__ import annotations

import pytest

from bench.stats import mcnemar_exact, median, paired, rate, wilson


def test_wilson_matches_the_textbook_values():
    # 95 % Wilson interval for 0/10, 5/10 and 10/10 (Newcombe 1998).
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_the_interval_narrows_with_more_tasks():
    small, large = wilson(3, 10), wilson(30, 100)
    assert large[1] - large[0] < small[1] - small[0]


def test_an_empty_rate_has_no_value():
    r = rate(0, 0)
    assert (r.rate, r.low, r.high) == (None, None, None) and r.text() == "– (0 tasks)"
    with pytest.raises(ValueError):
        wilson(0, 0)


def test_mcnemar_exact_is_the_two_sided_binomial_on_discordant_pairs():
    assert mcnemar_exact(0, 0) is None
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0


def test_paired_counts_only_tasks_both_arms_have():
    a = {"t1": True, "t2": True, "t3": False, "t4": False}
    b = {"t1": True, "t2": False, "t3": True, "t5": True}
    p = paired(a, b)
    assert (p.tasks, p.both, p.only_a, p.only_b, p.neither) == (3, 1, 1, 1, 0)


def test_median():
    assert median([]) is None and median([3, 1, 2]) == 2 and median([4, 1, 3, 2]) == 2.5
