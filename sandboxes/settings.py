"""Sandbox limits and options. Safe by default: no network, bounded memory, CPU and pids."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """`512m`, `2g`, `1.5G`, `4096` → bytes (binary units, as Docker reads them)."""
    raw = text.strip().lower().removesuffix("b")
    try:
        if raw and raw[-1] in _UNITS:
            return int(float(raw[:-1]) * _UNITS[raw[-1]])
        return int(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not a size (examples: 512m, 2g)") from None


class SandboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: Literal["auto", "docker", "local"] = "auto"
    image: str = Field(default="engram/sandbox-base:1", description="base image tag")
    base_build: Literal["auto", "dockerfile", "debootstrap"] = "auto"
    repo_image: bool = Field(
        default=True, description="install the repo's dependencies into a per-repo image"
    )
    install_project: bool = Field(
        default=True, description="per-repo image: also install the repo itself (editable)"
    )
    network: bool = Field(default=False, description="give containers a network (unsafe)")
    memory: str = "2g"
    cpus: float = Field(default=1.0, gt=0)
    pids_limit: int = Field(default=256, ge=16)
    tmpfs_size: str = "512m"
    file_size_limit: str = Field(
        default="2g", description="largest single file a command may write (RLIMIT_FSIZE)"
    )
    command_timeout_s: float = Field(default=120.0, gt=0)
    output_cap_bytes: int = Field(default=16_000, ge=1_000)

    @field_validator("memory", "tmpfs_size", "file_size_limit")
    @classmethod
    def _is_size(cls, value: str) -> str:
        parse_size(value)
        return value
