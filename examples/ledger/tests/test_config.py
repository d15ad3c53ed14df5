from decimal import Decimal

import pytest

from ledger.config import Settings, load_settings, read_environment
from ledger.errors import ConfigError


def test_defaults_without_file_or_environment():
    assert load_settings() == Settings("EUR", "%Y-%m-%d", Decimal(80), None)


def test_file_with_ledger_table(write_file):
    path = write_file(
        "ledger.toml",
        '[ledger]\ndefault_currency = "usd"\ndate_format = "%d/%m/%Y"\n'
        "alert_threshold = 92.5\nreport_depth = 2\n",
    )
    assert load_settings(path) == Settings("USD", "%d/%m/%Y", Decimal("92.5"), 2)


def test_top_level_keys_are_accepted(write_file):
    path = write_file("ledger.toml", "alert_threshold = 100\n")
    assert load_settings(path).alert_threshold == Decimal(100)


def test_environment_overrides_file(write_file):
    path = write_file("ledger.toml", 'default_currency = "GBP"\nreport_depth = 3\n')
    env = {"LEDGER_DEFAULT_CURRENCY": "chf", "LEDGER_REPORT_DEPTH": "none", "HOME": "/x"}
    settings = load_settings(path, env)
    assert (settings.default_currency, settings.report_depth) == ("CHF", None)


def test_read_environment_only_picks_ledger_variables():
    env = {"LEDGER_ALERT_THRESHOLD": "75", "LEDGER_UNKNOWN": "1", "ALERT_THRESHOLD": "5"}
    assert read_environment(env) == {"alert_threshold": "75"}
    assert load_settings(environ=env).alert_threshold == Decimal(75)


@pytest.mark.parametrize(
    "key, value",
    [
        ("LEDGER_ALERT_THRESHOLD", "0"),
        ("LEDGER_ALERT_THRESHOLD", "100.01"),
        ("LEDGER_ALERT_THRESHOLD", "lots"),
        ("LEDGER_DEFAULT_CURRENCY", "EURO"),
        ("LEDGER_DATE_FORMAT", "%Y-%m"),
        ("LEDGER_REPORT_DEPTH", "0"),
        ("LEDGER_REPORT_DEPTH", "two"),
    ],
)
def test_invalid_environment_values(key, value):
    with pytest.raises(ConfigError):
        load_settings(environ={key: value})


@pytest.mark.parametrize(
    "text, message",
    [
        ("colour = 'red'\n", "unknown setting 'colour'"),
        ("report_depth = \n", "invalid TOML"),
        ("alert_threshold = true\n", "alert_threshold must be a number"),
        ("report_depth = false\n", "report_depth must be an integer"),
    ],
)
def test_invalid_files(write_file, text, message):
    path = write_file("ledger.toml", text)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path / "absent.toml")
