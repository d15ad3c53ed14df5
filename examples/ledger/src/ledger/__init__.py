"""ledger: a plain-text personal-finance ledger.

Parse a journal with :func:`parse_journal` or :func:`parse_file`, then build
reports with the functions in :mod:`ledger.reports`.
"""

__version__ = "0.3.0"

from .accounts import Account, AccountTree
from .budget import Alert, Budget, check_alerts, parse_budgets
from .config import Settings, load_settings
from .dates import Period, add_months, parse_period
from .errors import (
    ConfigError,
    CurrencyMismatch,
    InvalidAccountName,
    InvalidAmount,
    LedgerError,
    ParseError,
    UnbalancedTransaction,
    UnknownAccount,
)
from .journal import Journal, Posting, Transaction
from .money import Money
from .parser import parse_file, parse_journal
from .reports import balance_report, budget_report, register, top_spending

__all__ = [
    "Account",
    "AccountTree",
    "Alert",
    "Budget",
    "ConfigError",
    "CurrencyMismatch",
    "InvalidAccountName",
    "InvalidAmount",
    "Journal",
    "LedgerError",
    "Money",
    "ParseError",
    "Period",
    "Posting",
    "Settings",
    "Transaction",
    "UnbalancedTransaction",
    "UnknownAccount",
    "__version__",
    "add_months",
    "balance_report",
    "budget_report",
    "check_alerts",
    "load_settings",
    "parse_budgets",
    "parse_file",
    "parse_journal",
    "parse_period",
    "register",
    "top_spending",
]
