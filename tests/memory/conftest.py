"""Fixtures for memory tests: adapter folders, stores, a tiny Qwen2 with the real tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.types import AdapterVersion, TrainingHyperparams

BASE_HASH = "b" * 64


def write_adapter_dir(path: Path, seed: int = 0, size: int = 256) -> Path:
    """A folder in PEFT's layout: a LoRA config and a real safetensors file."""
    import numpy as np
    from safetensors.numpy import save_file

    path.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["q_proj"]}
    (path / "adapter_config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(seed)
    save_file(
        {"base_model.model.layer.lora_A.weight": rng.standard_normal((4, size), dtype=np.float32)},
        str(path / "adapter_model.safetensors"),
    )
    return path


def make_manifest(repo_id: str, edits: list[str] | None = None, **extra) -> AdapterVersion:
    return AdapterVersion(
        repo_id=repo_id,
        version=0,
        base_model_id="tiny/base",
        base_model_hash=BASE_HASH,
        self_edit_hashes=edits or [],
        hyperparameters=extra.pop("hyperparameters", TrainingHyperparams()),
        **extra,
    )


@pytest.fixture
def adapter_dir(tmp_path) -> Path:
    return write_adapter_dir(tmp_path / "trained")
