"""Command-line interface: ``python -m ledger balance|register|budget``.

Exit codes: 0 on success, 1 when the ``budget`` command finds an account
over budget, 2 on any error (bad input file, bad configuration, bad flags).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import date

from . import __version__
from .budget import check_alerts, load_budgets
from .config import CONFIG_ENV, Settings, load_settings
from .dates import Period, parse_period, period_containing
from .errors import LedgerError
from .journal import Journal
from .parser import parse_file
from .reports import (
    STATUS_OVER,
    balance_report,
    budget_report,
    format_amounts,
    format_table,
    register,
)

EXIT_OK = 0
EXIT_OVER_BUDGET = 1
EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three sub-commands."""
    parser = argparse.ArgumentParser(prog="ledger", description="Plain-text ledger reports.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help="TOML settings file (default: $LEDGER_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)

    balance = commands.add_parser("balance", help="account balances")
    balance.add_argument("file")
    balance.add_argument("--depth", type=int, help="show accounts at most N levels deep")
    balance.add_argument("--period", help="2024-03, 2024-Q1, 2024 or A..B")

    reg = commands.add_parser("register", help="postings with a running balance")
    reg.add_argument("file")
    reg.add_argument("account")
    reg.add_argument("--period", help="2024-03, 2024-Q1, 2024 or A..B")

    bud = commands.add_parser("budget", help="budget versus actual for one month")
    bud.add_argument("file")
    bud.add_argument("budget_file")
    bud.add_argument("--month", help="YYYY-MM (default: the current month)")
    return parser


def _period(text: str | None) -> Period | None:
    try:
        return parse_period(text) if text else None
    except ValueError as exc:
        raise LedgerError(str(exc)) from None


def _load(path: str, settings: Settings) -> Journal:
    try:
        return parse_file(path, settings.default_currency, settings.date_format)
    except OSError as exc:
        raise LedgerError(f"cannot read {path}: {exc.strerror}") from None


def cmd_balance(args: argparse.Namespace, settings: Settings) -> int:
    """Print the balance report."""
    depth = args.depth if args.depth is not None else settings.report_depth
    try:
        rows = balance_report(_load(args.file, settings), depth, _period(args.period))
    except ValueError as exc:
        raise LedgerError(str(exc)) from None
    table = [["  " * (row.depth - 1) + row.account, format_amounts(row.amounts)] for row in rows]
    print(format_table(["Account", "Balance"], table, right=[1]))
    return EXIT_OK


def cmd_register(args: argparse.Namespace, settings: Settings) -> int:
    """Print the register of one account."""
    rows = register(_load(args.file, settings), args.account, _period(args.period))
    table = [
        [
            row.date.strftime(settings.date_format),
            row.description,
            row.account,
            str(row.amount),
            str(row.running),
        ]
        for row in rows
    ]
    headers = ["Date", "Description", "Account", "Amount", "Balance"]
    print(format_table(headers, table, right=[3, 4]))
    return EXIT_OK


def cmd_budget(args: argparse.Namespace, settings: Settings) -> int:
    """Print budget versus actual for a month; exit 1 if anything is over."""
    journal = _load(args.file, settings)
    try:
        budgets = load_budgets(args.budget_file, settings.default_currency)
    except OSError as exc:
        raise LedgerError(f"cannot read {args.budget_file}: {exc.strerror}") from None
    month = _period(args.month) or period_containing(date.today(), "month")
    lines = budget_report(journal, budgets, month)
    table = [
        [
            line.account,
            str(line.budget),
            str(line.actual),
            str(line.remaining),
            f"{line.percent}%",
            line.status,
        ]
        for line in lines
    ]
    headers = ["Account", "Budget", "Actual", "Remaining", "Used", "Status"]
    print(f"Budget for {month.label()}")
    print(format_table(headers, table, right=[1, 2, 3, 4]))
    for alert in check_alerts(
        {line.account: line.percent for line in lines}, settings.alert_threshold
    ):
        print(f"! {alert.message}")
    over = any(line.status == STATUS_OVER for line in lines)
    return EXIT_OVER_BUDGET if over else EXIT_OK


COMMANDS = {"balance": cmd_balance, "register": cmd_register, "budget": cmd_budget}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the CLI and return its exit code."""
    args = build_parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        settings = load_settings(args.config or env.get(CONFIG_ENV), env)
        return COMMANDS[args.command](args, settings)
    except LedgerError as exc:
        print(f"ledger: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
