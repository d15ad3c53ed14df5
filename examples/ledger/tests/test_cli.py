from datetime import date

import pytest

from ledger.cli import main


def run(capsys, *argv, environ=None):
    code = main(list(argv), environ={} if environ is None else environ)
    out, err = capsys.readouterr()
    return code, out, err


def test_balance_with_depth(capsys, sample_path):
    code, out, err = run(capsys, "balance", str(sample_path), "--depth", "1")
    assert code == 0
    assert err == ""
    assert out.splitlines() == [
        "Account         Balance",
        "--------  -------------",
        "assets    12,906.38 EUR",
        "equity    -7,580.00 EUR",
        "expenses   4,123.62 EUR",
        "income    -9,450.00 EUR",
    ]


def test_balance_indents_children_and_filters_period(capsys, sample_path):
    code, out, _ = run(capsys, "balance", str(sample_path), "--period", "2024-03", "--depth", "2")
    assert code == 0
    food = [line for line in out.splitlines() if "expenses:food" in line]
    assert food == ["  expenses:food              279.90 EUR"]
    assert "expenses:food:groceries" not in out


def test_register_with_period(capsys, sample_path):
    code, out, _ = run(
        capsys, "register", str(sample_path), "expenses:transport", "--period", "2024-03"
    )
    assert code == 0
    assert out.splitlines()[2:] == [
        "2024-03-09  Monthly transit pass  expenses:transport  49.00 EUR  49.00 EUR",
        "2024-03-11  Taxi to airport       expenses:transport  36.50 EUR  85.50 EUR",
    ]


def test_register_aligns_amounts_right(capsys, sample_path):
    code, out, _ = run(capsys, "register", str(sample_path), "expenses:food:restaurants")
    assert code == 0
    assert out.splitlines() == [
        "Date        Description         Account                        Amount     Balance",
        "----------  ------------------  -------------------------  ----------  ----------",
        "2024-01-12  Pizzeria Roma       expenses:food:restaurants   38.50 EUR   38.50 EUR",
        "2024-02-14  Valentine's dinner  expenses:food:restaurants  112.00 EUR  150.50 EUR",
        "2024-03-16  Bakery and cafe     expenses:food:restaurants   18.40 EUR  168.90 EUR",
    ]


def test_budget_over_returns_one(capsys, sample_path, budget_path):
    code, out, _ = run(capsys, "budget", str(sample_path), str(budget_path), "--month", "2024-03")
    assert code == 1
    assert out.splitlines() == [
        "Budget for 2024-03",
        "Account                        Budget      Actual   Remaining    Used  Status",
        "-------------------------  ----------  ----------  ----------  ------  ------",
        "expenses:entertainment      60.00 EUR    0.00 EUR   60.00 EUR    0.0%  under",
        "expenses:food:groceries    181.50 EUR  261.50 EUR  -80.00 EUR  144.1%  over",
        "expenses:food:restaurants   50.00 EUR   18.40 EUR   31.60 EUR   36.8%  under",
        "expenses:transport          80.00 EUR   85.50 EUR   -5.50 EUR  106.9%  over",
        "expenses:utilities         120.00 EUR   81.74 EUR   38.26 EUR   68.1%  under",
        "! expenses:food:groceries: 144.1% of budget used (over)",
        "! expenses:transport: 106.9% of budget used (over)",
    ]


def test_budget_warnings_alone_return_zero(capsys, sample_path, budget_path):
    code, out, _ = run(capsys, "budget", str(sample_path), str(budget_path), "--month", "2024-01")
    assert code == 0
    alerts = [line for line in out.splitlines() if line.startswith("!")]
    assert alerts == [
        "! expenses:food:groceries: 97.0% of budget used (warning)",
        "! expenses:utilities: 93.7% of budget used (warning)",
    ]


def test_budget_month_defaults_to_the_current_month(capsys, sample_path, budget_path):
    code, out, _ = run(capsys, "budget", str(sample_path), str(budget_path))
    assert code == 0
    assert out.startswith(f"Budget for {date.today():%Y-%m}\n")


def test_configuration_from_environment(capsys, sample_path, budget_path, write_file):
    config = write_file("ledger.toml", "alert_threshold = 97\nreport_depth = 1\n")
    env = {"LEDGER_CONFIG": str(config)}
    code, out, _ = run(
        capsys, "budget", str(sample_path), str(budget_path), "--month", "2024-01", environ=env
    )
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("!")] == [
        "! expenses:food:groceries: 97.0% of budget used (warning)",
    ]
    code, out, _ = run(capsys, "balance", str(sample_path), environ=env)
    assert len(out.splitlines()) == 6


@pytest.mark.parametrize(
    "argv, message",
    [
        (["balance", "missing.journal"], "cannot read missing.journal"),
        (["balance", "{sample}", "--depth", "0"], "depth must be at least 1"),
        (["budget", "{sample}", "{sample}", "--month", "2024-03"], "line 4: expected an account"),
        (["register", "{sample}", "assets", "--period", "2024-13"], "invalid month"),
        (["budget", "{sample}", "nope.budget", "--month", "2024-03"], "cannot read nope.budget"),
    ],
)
def test_errors_exit_with_two(capsys, sample_path, argv, message):
    argv = [arg.format(sample=sample_path) for arg in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("ledger: error: ")
    assert message in err


def test_unbalanced_journal_reports_line(capsys, write_file):
    path = write_file("bad.journal", "2024-01-01 Pay\n  a:b  1 EUR\n  c:d  -2 EUR\n")
    code, _, err = run(capsys, "balance", str(path))
    assert code == 2
    assert "line 1: transaction does not balance (off by -1.00 EUR)" in err


def test_bad_config_exits_with_two(capsys, sample_path):
    code, _, err = run(capsys, "balance", str(sample_path), environ={"LEDGER_ALERT_THRESHOLD": "0"})
    assert code == 2
    assert "alert_threshold must be greater than 0" in err


def test_missing_command_is_a_usage_error_and_version_exits_zero(capsys):
    with pytest.raises(SystemExit) as info:
        main([], environ={})
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["--version"], environ={})
    assert info.value.code == 0
    assert capsys.readouterr().out == "ledger 0.3.0\n"
