"""Retrain and merge on the tiny model: the merged adapter is exactly the sum of both."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from agent.types import ChatMessage
from memory.consolidate import merge, retrain
from memory.trainer import TrainerConfig
from tests.memory.learn_setup import tiny_lm

SETTINGS = TrainerConfig(max_steps=2, lora_rank=4, lora_alpha=8, learning_rate=3e-3)


def chats(word: str) -> list[list[ChatMessage]]:
    return [[ChatMessage(role="user", content=f"say {word} {i}"),
             ChatMessage(role="assistant", content=f"{word} {i} {word}")] for i in range(2)]  # fmt: skip


def deltas(folder, scaling: float) -> dict[str, torch.Tensor]:
    weights = load_file(str(folder / "adapter_model.safetensors"))
    out = {}
    for key, a in weights.items():
        if ".lora_A." in key:
            b = weights[key.replace(".lora_A.", ".lora_B.")]
            out[key.split(".lora_A.")[0]] = (b.float() @ a.float()) * scaling
    return out


def test_retrain_gives_the_base_back(tmp_path):
    lm = tiny_lm()
    ids = torch.tensor([[1, 2, 3, 4]])
    before = lm.base(input_ids=ids).logits
    cand = retrain(lm, chats("alpha"), SETTINGS, tmp_path / "a")
    assert (cand.adapter_dir / "adapter_config.json").is_file() and cand.stats.steps == 2
    assert not any("lora" in name for name, _ in lm.base.named_modules())
    assert torch.equal(lm.base(input_ids=ids).logits, before)


def test_merge_is_the_exact_sum_of_both_updates(tmp_path):
    lm = tiny_lm()
    first = retrain(lm, chats("alpha"), SETTINGS, tmp_path / "v1")
    merged = merge(lm, chats("beta"), SETTINGS.model_copy(update={"seed": 1}), tmp_path / "v2",
                   current=first.adapter_dir)  # fmt: skip
    assert merged.method == "merge" and merged.lora_rank == 8 and merged.lora_alpha == 8
    # the delta is retrained the same way to compare: same data, same seed
    delta = retrain(tiny_lm(), chats("beta"), SETTINGS.model_copy(update={"seed": 1}),
                    tmp_path / "delta")  # fmt: skip
    d1, d2 = deltas(first.adapter_dir, 8 / 4), deltas(delta.adapter_dir, 8 / 4)
    dm = deltas(merged.adapter_dir, 8 / 8)
    assert d1.keys() == dm.keys() and len(dm) == 14  # 7 projections × 2 layers
    for key in dm:
        torch.testing.assert_close(dm[key], d1[key] + d2[key], rtol=1e-4, atol=1e-6)
    assert not any("lora" in name for name, _ in lm.base.named_modules())


def test_merge_without_a_current_adapter_is_a_retrain(tmp_path):
    cand = merge(tiny_lm(), chats("alpha"), SETTINGS, tmp_path / "v1", current=None)
    assert cand.method == "merge" and cand.lora_rank == 4


def test_training_refuses_a_model_with_adapters_loaded(tmp_path):
    lm = tiny_lm()
    first = retrain(lm, chats("alpha"), SETTINGS, tmp_path / "v1")
    lm.load_adapter("x", first.adapter_dir)
    with pytest.raises(RuntimeError, match="unload"):
        retrain(lm, chats("beta"), SETTINGS, tmp_path / "v2")
