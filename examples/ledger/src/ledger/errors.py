"""Exception hierarchy shared by every ledger module."""

from __future__ import annotations


class LedgerError(Exception):
    """Base class for all errors raised by the ledger package."""


def _locate(message: str, line_no: int | None, source: str | None) -> str:
    """Prefix *message* with ``source:line`` or ``line N`` when known."""
    if line_no is None:
        return message
    where = f"{source}:{line_no}" if source else f"line {line_no}"
    return f"{where}: {message}"


class ParseError(LedgerError):
    """A journal or budget file could not be parsed."""

    def __init__(self, line_no: int, message: str, source: str | None = None) -> None:
        self.line_no = line_no
        self.message = message
        self.source = source
        super().__init__(_locate(message, line_no, source))


class UnbalancedTransaction(LedgerError):
    """The postings of a transaction do not sum to zero."""

    def __init__(self, message: str, line_no: int | None = None) -> None:
        self.line_no = line_no
        self.message = message
        super().__init__(_locate(message, line_no, None))


class CurrencyMismatch(LedgerError):
    """Two amounts in different currencies were combined."""

    def __init__(self, left: str, right: str) -> None:
        self.left = left
        self.right = right
        super().__init__(f"cannot combine {left} with {right}")


class InvalidAmount(LedgerError):
    """A string could not be read as a monetary amount."""


class InvalidAccountName(LedgerError):
    """An account name is empty or has an empty segment."""


class UnknownAccount(LedgerError):
    """An account was looked up that does not exist in the tree."""


class ConfigError(LedgerError):
    """A configuration file or environment variable holds a bad value."""
