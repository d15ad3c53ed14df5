"""Typed configuration that flows one way.

defaults → user config (`$ENGRAM_HOME/config.toml`) → repo config (`engram.toml` or
`[tool.engram]` in the target repo's `pyproject.toml`) → environment (`ENGRAM_*`) →
CLI flags. Each later layer overrides single keys of the earlier ones, and the loader
remembers which layer set each key so `engram config show` can say where a value came
from.

Environment variables address keys as `ENGRAM_<SECTION>__<KEY>` (double underscore
between section and key, e.g. `ENGRAM_SANDBOX__MEMORY=4g`); `ENGRAM_HOME` is the one
top-level variable.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sandboxes.settings import SandboxSettings


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(Section):
    name: str = Field(
        default="qwen2.5-coder-0.5b-instruct",
        description="registry name, local folder, .gguf file, or hub id",
    )
    backend: Literal["auto", "hf", "llamacpp", "openai", "fake"] = "auto"
    dtype: Literal["bfloat16", "float32", "float16"] = "bfloat16"
    device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N")
    context_tokens: int = Field(default=8192, ge=512)
    max_new_tokens: int = Field(default=384, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int = 0
    openai_base_url: str = "http://127.0.0.1:8000/v1"
    openai_api_key_env: str = Field(
        default="OPENAI_API_KEY", description="name of the env var holding the key (never the key)"
    )
    threads: int = Field(default=0, ge=0, description="CPU threads; 0 = all cores")
    # Measured in docs/llamacpp.md: a merged Q8_0 model decodes at the base model's speed
    # (the runtime LoRA costs 11-15 % per token) and agrees with transformers as closely.
    adapter_mode: Literal["runtime", "merged"] = Field(
        default="merged",
        description="llamacpp: apply a repo adapter at runtime, or merge it into a model of its own",
    )
    merged_type: str = Field(
        default="Q8_0",
        description="llamacpp, merged mode: the merged model's quantization (base = the GGUF's own)",
    )


# The sandbox owns its settings type (it is the bottom layer and cannot import agent).
SandboxSection = SandboxSettings


class AgentSection(Section):
    policy: Literal["auto", "freeform", "small"] = "auto"
    action_format: Literal["auto", "native", "text"] = "auto"
    constrained: bool = Field(default=False, description="grammar-constrained actions")
    max_steps: int = Field(default=30, ge=1)
    max_tokens: int = Field(default=200_000, ge=1)
    max_wall_s: float = Field(default=1800.0, gt=0)
    max_resamples: int = Field(default=6, ge=0)
    max_rollbacks: int = Field(default=2, ge=0)
    max_format_errors: int = Field(default=4, ge=1)
    observation_chars: int = Field(default=3000, ge=200)
    keep_recent_steps: int = Field(default=6, ge=1)
    best_of: int = Field(default=1, ge=1)
    repo_map_tokens: int = Field(default=600, ge=0, description="repo outline in the prompt; 0 off")


class ProbesSection(Section):
    enabled: bool = True
    layer: int | None = Field(default=None, description="None: about two thirds of the depth")
    target_false_alarm: float = Field(default=0.05, gt=0, lt=1)
    decay: float = Field(default=0.7, gt=0, lt=1)


class MemorySection(Section):
    use_adapter: bool = True
    notes_in_context: bool = Field(
        default=False,
        description="put the repo's kept notes in every prompt (measured: no gain on the 0.5B)",
    )
    auto_every: int = Field(default=0, ge=0, description="consolidate after N verified runs; 0 off")
    loss: Literal["ce", "eaft"] = "eaft"
    method: Literal["retrain", "merge"] = "retrain"
    replay_share: float = Field(default=0.3, ge=0, le=0.9)
    general_tolerance: float = Field(default=0.02, ge=0, le=1)


class BotSection(Section):
    label: str = "engram"
    command: str = "/engram"
    trusted_associations: list[str] = Field(
        default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"]
    )
    allow_users: list[str] = Field(default_factory=list)
    api_url: str = "https://api.github.com"
    max_steps: int = Field(default=30, ge=1)
    max_wall_s: float = Field(default=3600.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, description="tries per job before it is failed")
    max_payload_bytes: int = Field(default=1_048_576, ge=1024, description="webhook body cap")
    auto_learn: bool = False


class EngramConfig(Section):
    model: ModelSection = Field(default_factory=ModelSection)
    sandbox: SandboxSection = Field(default_factory=SandboxSection)
    agent: AgentSection = Field(default_factory=AgentSection)
    probes: ProbesSection = Field(default_factory=ProbesSection)
    memory: MemorySection = Field(default_factory=MemorySection)
    bot: BotSection = Field(default_factory=BotSection)


class ConfigError(ValueError):
    """A config file, variable or flag that cannot be used; the message says which and why."""

    user_facing = True


class LoadedConfig(BaseModel):
    """The merged config and, for every key, the layer that last set it."""

    config: EngramConfig
    sources: dict[str, str]

    def rows(self) -> list[tuple[str, Any, str]]:
        flat = _flatten(self.config.model_dump(mode="json"))
        return [(k, v, self.sources.get(k, "default")) for k, v in sorted(flat.items())]


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _known_keys() -> set[str]:
    return set(_flatten(EngramConfig().model_dump(mode="json")))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}). Fix or remove the file.") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from exc


def _check_keys(layer: dict[str, Any], origin: str) -> None:
    known = _known_keys()
    for key in layer:
        if key not in known:
            sections = sorted({k.split(".")[0] for k in known})
            raise ConfigError(
                f"{origin}: unknown setting '{key}'. Sections are {', '.join(sections)}; "
                "run `engram config show` to list every key."
            )


def repo_config_layer(repo: Path) -> tuple[dict[str, Any], str] | None:
    """The repo's own settings: `engram.toml` wins over `[tool.engram]` in pyproject."""
    own = repo / "engram.toml"
    if own.is_file():
        return _flatten(_read_toml(own)), f"repo:{own}"
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("engram")
        if section:
            return _flatten(section), f"repo:{pyproject} [tool.engram]"
    return None


def env_layer(environ: dict[str, str]) -> dict[str, tuple[str, str]]:
    """`ENGRAM_SECTION__KEY=value` → {"section.key": (value, var name)}."""
    out: dict[str, tuple[str, str]] = {}
    for var, value in environ.items():
        if not var.startswith("ENGRAM_") or "__" not in var:
            continue
        section, _, key = var[len("ENGRAM_") :].lower().partition("__")
        out[f"{section}.{key}"] = (value, f"env:{var}")
    return out


def _coerce_list(value: Any, key: str) -> Any:
    # Env vars and flags arrive as strings; list settings take comma-separated values.
    default = _flatten(EngramConfig().model_dump(mode="json")).get(key)
    if isinstance(default, list) and isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def load_config(
    repo: Path | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    user_config: Path | None = None,
) -> LoadedConfig:
    """Merge all layers. Raises ConfigError naming the file / variable / flag at fault."""
    from agent.home import engram_home

    environ = dict(os.environ if environ is None else environ)
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def apply(layer: dict[str, Any], origin: str | dict[str, str]) -> None:
        for key, value in layer.items():
            merged[key] = _coerce_list(value, key)
            sources[key] = origin if isinstance(origin, str) else origin[key]

    user_path = user_config or engram_home(environ) / "config.toml"
    if user_path.is_file():
        layer = _flatten(_read_toml(user_path))
        _check_keys(layer, str(user_path))
        apply(layer, f"user:{user_path}")
    if repo is not None:
        found = repo_config_layer(repo)
        if found:
            layer, origin = found
            _check_keys(layer, origin)
            apply(layer, origin)
    env = env_layer(environ)
    _check_keys(dict.fromkeys(env), "environment")
    apply({k: v for k, (v, _) in env.items()}, {k: o for k, (_, o) in env.items()})
    if flags:
        flag_layer = {k: v for k, v in flags.items() if v is not None}
        _check_keys(flag_layer, "command line")
        apply(flag_layer, {k: f"flag:{k}" for k in flag_layer})

    tree: dict[str, Any] = {}
    for dotted, value in merged.items():
        section, _, key = dotted.partition(".")
        tree.setdefault(section, {})[key] = value
    try:
        config = EngramConfig.model_validate(tree)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            problems.append(f"{key} = {merged.get(key)!r} (from {sources.get(key)}): {err['msg']}")
        raise ConfigError("invalid settings:\n  " + "\n  ".join(problems)) from exc
    return LoadedConfig(config=config, sources=sources)
