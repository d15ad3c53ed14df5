"""Reader for the plain-text journal format.

Example::

    ; comments start with a semicolon
    2024-03-01 * Groceries
        expenses:food:groceries   42.10 EUR
        assets:bank:checking

A transaction starts with an unindented line holding a date, an optional
status marker (``*`` cleared, ``!`` pending) and a description.  Each
indented line below it is a posting: an account name, then two or more
spaces (or a tab), then an optional amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from .errors import InvalidAccountName, InvalidAmount, ParseError
from .journal import STATUS_CLEARED, STATUS_PENDING, Journal, Posting, Transaction
from .money import Money

COMMENT_CHARS = (";", "#")
DEFAULT_DATE_FORMAT = "%Y-%m-%d"

_POSTING_SPLIT = re.compile(r"\s{2,}|\t")


def strip_comment(line: str) -> str:
    """Remove a trailing ``;`` comment and trailing whitespace from *line*."""
    return line.split(";", 1)[0].rstrip()


@dataclass
class _Draft:
    """A transaction whose header has been read but whose postings are pending."""

    date: date
    description: str
    status: str
    line_no: int
    postings: list[Posting] = field(default_factory=list)

    def build(self) -> Transaction:
        return Transaction(
            self.date, self.description, tuple(self.postings), self.status, self.line_no
        )


def parse_date(text: str, line_no: int, date_format: str = DEFAULT_DATE_FORMAT) -> date:
    """Parse a transaction date, reporting *line_no* on failure."""
    try:
        return datetime.strptime(text, date_format).date()
    except ValueError:
        raise ParseError(line_no, f"invalid date {text!r}") from None


def parse_header(line: str, line_no: int, date_format: str = DEFAULT_DATE_FORMAT) -> _Draft:
    """Parse ``DATE [*|!] DESCRIPTION`` into a draft transaction."""
    fields = line.split(maxsplit=1)
    day = parse_date(fields[0], line_no, date_format)
    rest = fields[1] if len(fields) > 1 else ""
    status = ""
    if rest[:1] in (STATUS_CLEARED, STATUS_PENDING) and rest[1:2] in ("", " "):
        status, rest = rest[0], rest[1:].strip()
    if not rest:
        raise ParseError(line_no, "transaction has no description")
    return _Draft(day, rest, status, line_no)


def parse_posting(line: str, line_no: int, default_currency: str) -> Posting:
    """Parse an indented ``ACCOUNT  [AMOUNT]`` line."""
    parts = _POSTING_SPLIT.split(line.strip(), maxsplit=1)
    try:
        amount = Money.parse(parts[1], default_currency) if len(parts) == 2 else None
        return Posting(parts[0], amount, line_no)
    except (InvalidAmount, InvalidAccountName) as exc:
        raise ParseError(line_no, str(exc)) from None


def parse_journal(
    text: str,
    default_currency: str = "EUR",
    date_format: str = DEFAULT_DATE_FORMAT,
    source: str | None = None,
) -> Journal:
    """Parse journal *text* into a :class:`~ledger.journal.Journal`.

    Syntax errors raise :class:`~ledger.errors.ParseError` carrying the line
    number (and *source*, when given); transactions that do not balance raise
    :class:`~ledger.errors.UnbalancedTransaction` with the header's line.
    """
    journal = Journal()
    draft: _Draft | None = None
    try:
        for line_no, raw in enumerate(text.splitlines(), start=1):
            line = strip_comment(raw)
            if not line.strip() or line.lstrip().startswith(COMMENT_CHARS):
                continue
            if line[0] in " \t":
                if draft is None:
                    raise ParseError(line_no, "posting outside of a transaction")
                draft.postings.append(parse_posting(line, line_no, default_currency))
                continue
            if draft is not None:
                journal.add(draft.build())
            draft = parse_header(line, line_no, date_format)
        if draft is not None:
            journal.add(draft.build())
    except ParseError as exc:
        raise ParseError(exc.line_no, exc.message, source) from None
    return journal


def parse_file(
    path: str | Path, default_currency: str = "EUR", date_format: str = DEFAULT_DATE_FORMAT
) -> Journal:
    """Read and parse the journal file at *path*."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return parse_journal(text, default_currency, date_format, source=str(path))
