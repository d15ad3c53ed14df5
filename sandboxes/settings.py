"""Sandbox limits and options. Safe by default: no network, bounded memory, CPU and pids."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SandboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: Literal["auto", "docker", "local"] = "auto"
    image: str = Field(default="engram/sandbox-base:1", description="base image tag")
    base_build: Literal["auto", "dockerfile", "debootstrap"] = "auto"
    network: bool = Field(default=False, description="give containers a network (unsafe)")
    memory: str = "2g"
    cpus: float = Field(default=1.0, gt=0)
    pids_limit: int = Field(default=256, ge=16)
    tmpfs_size: str = "512m"
    command_timeout_s: float = Field(default=120.0, gt=0)
    output_cap_bytes: int = Field(default=16_000, ge=1_000)
