"""Shared fixtures: the bundled sample journal and small inline journals."""

from pathlib import Path

import pytest

from ledger import parse_file, parse_journal

DATA = Path(__file__).parent / "data"

SMALL_JOURNAL = """\
; a tiny journal used by several tests
2024-03-01 * Groceries
    expenses:food:groceries   42.10 EUR
    assets:bank:checking

# hash comments are allowed at the start of a line
2024-03-05 ! Train ticket  ; reimbursable
    expenses:transport        12.00 EUR
    liabilities:creditcard   -12.00 EUR

2024-02-28 Salary
    assets:bank:checking   1,500.00 EUR
    income:salary
"""


@pytest.fixture
def sample_path() -> Path:
    return DATA / "sample.journal"


@pytest.fixture
def budget_path() -> Path:
    return DATA / "sample.budget"


@pytest.fixture
def sample_journal(sample_path):
    return parse_file(sample_path)


@pytest.fixture
def small_journal():
    return parse_journal(SMALL_JOURNAL)


@pytest.fixture
def write_file(tmp_path):
    """Write *text* to a file called *name* in a temporary directory."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
