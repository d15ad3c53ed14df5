"""A small real repository whose tests catch most bugs: the generator's test subject."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_git_repo

STATS = '''\
"""Small numeric helpers."""


def mean(values):
    if not values:
        raise ValueError("mean of nothing")
    return sum(values) / len(values)


def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def running_total(values):
    total = 0
    out = []
    for value in values:
        total += value
        out.append(total)
    return out


def window(values, size):
    return [values[i : i + size] for i in range(len(values) - size + 1)]


def is_sorted(values):
    return all(a <= b for a, b in zip(values, values[1:]))
'''

TEST_STATS = '''\
import pytest

from stats.core import clamp, is_sorted, mean, running_total, window


def test_mean():
    """The mean of a list is its sum over its length."""
    assert mean([1, 2, 3, 6]) == 3


def test_mean_of_nothing():
    with pytest.raises(ValueError):
        mean([])


@pytest.mark.parametrize(("x", "expected"), [(-5, 0), (0, 0), (4, 4), (10, 10), (11, 10)])
def test_clamp(x, expected):
    assert clamp(x, 0, 10) == expected


def test_running_total():
    assert running_total([1, 2, 3]) == [1, 3, 6]


def test_window():
    assert window([1, 2, 3, 4], 2) == [[1, 2], [2, 3], [3, 4]]


def test_window_too_big():
    assert window([1], 2) == []


def test_is_sorted():
    assert is_sorted([1, 2, 2, 5])
    assert not is_sorted([2, 1])
'''

STATS_REPO = {
    "pyproject.toml": '[project]\nname = "stats"\nversion = "0.1"\n\n'
    '[tool.pytest.ini_options]\npythonpath = ["src"]\ntestpaths = ["tests"]\n',
    "src/stats/__init__.py": "",
    "src/stats/core.py": STATS,
    "tests/test_core.py": TEST_STATS,
}


@pytest.fixture
def stats_repo(tmp_path) -> Path:
    return make_git_repo(tmp_path / "stats", STATS_REPO)
