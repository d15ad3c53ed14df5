from pathlib import Path

import pytest

from agent.config import ConfigError, load_config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_apply_without_any_layer(tmp_path):
    loaded = load_config(environ={"ENGRAM_HOME": str(tmp_path)})
    assert loaded.config.sandbox.network is False
    assert loaded.sources == {}


def test_each_layer_overrides_the_previous_and_is_recorded(tmp_path):
    write(tmp_path / "home/config.toml", "[agent]\nmax_steps = 11\n[model]\ntemperature = 0.3\n")
    repo = tmp_path / "repo"
    write(repo / "engram.toml", "[agent]\nmax_steps = 12\n[sandbox]\nmemory = '3g'\n")
    env = {"ENGRAM_HOME": str(tmp_path / "home"), "ENGRAM_AGENT__MAX_STEPS": "13",
           "ENGRAM_SANDBOX__CPUS": "1.5"}  # fmt: skip
    loaded = load_config(repo=repo, environ=env, flags={"agent.max_steps": 14})
    cfg = loaded.config
    assert (cfg.agent.max_steps, cfg.model.temperature, cfg.sandbox.memory, cfg.sandbox.cpus) == (
        14, 0.3, "3g", 1.5)  # fmt: skip
    assert loaded.sources["agent.max_steps"] == "flag:agent.max_steps"
    assert loaded.sources["model.temperature"].startswith("user:")
    assert loaded.sources["sandbox.memory"].startswith("repo:")
    assert loaded.sources["sandbox.cpus"] == "env:ENGRAM_SANDBOX__CPUS"


def test_pyproject_tool_engram_section_is_a_repo_layer(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "pyproject.toml", "[project]\nname='x'\n[tool.engram.agent]\nmax_steps = 7\n")
    loaded = load_config(repo=repo, environ={"ENGRAM_HOME": str(tmp_path)})
    assert loaded.config.agent.max_steps == 7
    assert "[tool.engram]" in loaded.sources["agent.max_steps"]


def test_engram_toml_wins_over_pyproject(tmp_path):
    repo = tmp_path / "repo"
    write(repo / "pyproject.toml", "[tool.engram.agent]\nmax_steps = 7\n")
    write(repo / "engram.toml", "[agent]\nmax_steps = 8\n")
    assert (
        load_config(repo=repo, environ={"ENGRAM_HOME": str(tmp_path)}).config.agent.max_steps == 8
    )


def test_unknown_key_names_the_file(tmp_path):
    path = write(tmp_path / "config.toml", "[agent]\nmax_stepz = 3\n")
    with pytest.raises(ConfigError, match=r"config.toml: unknown setting 'agent.max_stepz'"):
        load_config(environ={"ENGRAM_HOME": str(tmp_path)}, user_config=path)


def test_invalid_value_names_its_source(tmp_path):
    env = {"ENGRAM_HOME": str(tmp_path), "ENGRAM_AGENT__MAX_STEPS": "many"}
    with pytest.raises(
        ConfigError, match=r"agent.max_steps = 'many' \(from env:ENGRAM_AGENT__MAX_STEPS\)"
    ):
        load_config(environ=env)


def test_broken_toml_is_a_clear_error(tmp_path):
    write(tmp_path / "config.toml", "[agent\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(environ={"ENGRAM_HOME": str(tmp_path)})


def test_list_settings_accept_comma_separated_env(tmp_path):
    env = {"ENGRAM_HOME": str(tmp_path), "ENGRAM_BOT__ALLOW_USERS": "alice, bob"}
    assert load_config(environ=env).config.bot.allow_users == ["alice", "bob"]
