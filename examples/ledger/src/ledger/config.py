"""Settings loaded from a TOML file and overridden by ``LEDGER_*`` variables.

A configuration file may put its keys at the top level or in a ``[ledger]``
table::

    [ledger]
    default_currency = "EUR"
    date_format = "%Y-%m-%d"
    alert_threshold = 80
    report_depth = 2

Each key can be overridden by the upper-cased environment variable with a
``LEDGER_`` prefix, e.g. ``LEDGER_ALERT_THRESHOLD=90``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "LEDGER_"
#: Environment variable naming the configuration file used by the CLI.
CONFIG_ENV = "LEDGER_CONFIG"

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_SAMPLE_DATE = date(2024, 11, 23)


@dataclass(frozen=True)
class Settings:
    """Typed, validated ledger settings."""

    default_currency: str = "EUR"
    date_format: str = "%Y-%m-%d"
    alert_threshold: Decimal = Decimal(80)
    report_depth: int | None = None


def _to_currency(value: Any) -> str:
    code = str(value).strip().upper()
    if not _CURRENCY_RE.fullmatch(code):
        raise ConfigError(f"default_currency must be a three-letter code, not {value!r}")
    return code


def _to_date_format(value: Any) -> str:
    fmt = str(value)
    try:
        round_trip = datetime.strptime(_SAMPLE_DATE.strftime(fmt), fmt).date()
    except ValueError:
        round_trip = None
    if round_trip != _SAMPLE_DATE:
        raise ConfigError(f"date_format {fmt!r} cannot represent a full date")
    return fmt


def _to_threshold(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ConfigError("alert_threshold must be a number")
    try:
        threshold = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigError(f"alert_threshold must be a number, not {value!r}") from None
    if not 0 < threshold <= 100:
        raise ConfigError("alert_threshold must be greater than 0 and at most 100")
    return threshold


def _to_depth(value: Any) -> int | None:
    if value is None or str(value).strip().lower() in ("", "none"):
        return None
    if isinstance(value, bool):
        raise ConfigError("report_depth must be an integer")
    try:
        depth = int(value)
    except ValueError:
        raise ConfigError(f"report_depth must be an integer, not {value!r}") from None
    if depth < 1:
        raise ConfigError("report_depth must be at least 1")
    return depth


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "default_currency": _to_currency,
    "date_format": _to_date_format,
    "alert_threshold": _to_threshold,
    "report_depth": _to_depth,
}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Raw settings from a TOML file, taken from ``[ledger]`` if present."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}") from None
    table = data.get("ledger", data)
    unknown = sorted(set(table) - set(_CONVERTERS))
    if unknown:
        raise ConfigError(f"unknown setting {unknown[0]!r} in {path}")
    return dict(table)


def read_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Raw settings from ``LEDGER_<NAME>`` variables in *environ*."""
    values = {}
    for field in fields(Settings):
        key = ENV_PREFIX + field.name.upper()
        if key in environ:
            values[field.name] = environ[key]
    return values


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Defaults, then the file at *path*, then the environment, validated."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw.update(read_config_file(path))
    if environ is not None:
        raw.update(read_environment(environ))
    return Settings(**{name: _CONVERTERS[name](value) for name, value in raw.items()})
