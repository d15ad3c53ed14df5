"""`engram serve` argument handling (before any model is loaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.home import Home
from agent.serve.preload import parse_adapter_flags, store_adapters


def test_adapter_flags_parse_to_names_and_paths(tmp_path):
    flags = [f"repo-a={tmp_path}/a", "b = ~/adapters/b"]
    assert parse_adapter_flags(flags) == {
        "repo-a": tmp_path / "a",
        "b": Path("~/adapters/b").expanduser(),
    }


@pytest.mark.parametrize("flag", ["noequals", "=path", "name="])
def test_malformed_adapter_flag_is_refused(flag):
    with pytest.raises(ValueError, match="NAME=PATH"):
        parse_adapter_flags([flag])


def test_serve_rejects_a_bad_adapter_flag_before_loading_anything():
    result = CliRunner().invoke(app, ["serve", "--adapter", "oops"])
    assert result.exit_code == 2
    assert "NAME=PATH" in result.output


def test_serve_refuses_an_empty_api_key_variable(monkeypatch):
    monkeypatch.delenv("ENGRAM_TEST_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--api-key-env", "ENGRAM_TEST_KEY"])
    assert result.exit_code == 2 and "ENGRAM_TEST_KEY" in result.output


def test_store_seam_returns_a_mapping_for_a_fresh_home():
    assert store_adapters(Home.resolve()) == {}
