"""How closely two backends agree on the same prompts: next-token logits compared by
correlation and top-1 choice. Used to check that llama.cpp (Q4_K_M GGUF, LoRA converted
to GGUF) computes what transformers (bf16, PEFT) computes, with and without an adapter
(tests/agent/backends/test_llamacpp.py, scripts/bench_llamacpp.py).

Also makes the random LoRA adapters those checks use: PEFT on the real model, B not
zero (so the adapter changes the output), scaled so the model still writes text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent.types import ChatMessage

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Agreement:
    prompts: int
    corr_mean: float  # Pearson correlation of the full next-token logits, averaged
    corr_min: float
    top1: float  # share of prompts whose most likely next token is the same

    def line(self) -> str:
        return (f"corr mean {self.corr_mean:.4f} min {self.corr_min:.4f}, "
                f"top-1 {self.top1:.0%} of {self.prompts}")  # fmt: skip


def compare(a: list[np.ndarray], b: list[np.ndarray]) -> Agreement:
    corr = []
    top1 = 0
    for x, y in zip(a, b, strict=True):
        n = min(len(x), len(y))  # the HF output layer is padded past the vocabulary
        x, y = x[:n].astype(np.float64), y[:n].astype(np.float64)
        corr.append(float(np.corrcoef(x, y)[0, 1]))
        top1 += int(x.argmax() == y.argmax())
    return Agreement(len(corr), float(np.mean(corr)), float(np.min(corr)), top1 / len(corr))


def hf_next_logits(hf: Any, messages: list[ChatMessage], adapter: str | None = None
                   ) -> np.ndarray:  # fmt: skip
    """The `hf` backend's raw next-token logits after the prompt (float32 [vocab])."""
    import torch

    ids = hf.encode(messages)
    with hf.using_adapter(adapter) as model, torch.inference_mode():
        out = model(input_ids=torch.tensor([ids], device=model.device)).logits[0, -1]
    return out.float().cpu().numpy()


def random_lora(base_dir: Path, out: Path, seed: int = 0, r: int = 16, scale: float = 0.1,
                targets: tuple[str, ...] = ALL_PROJECTIONS) -> Path:  # fmt: skip
    """A LoRA adapter of the model in `base_dir`, saved by PEFT at `out`: random A and B
    (B scaled by `scale`: PEFT's random B at alpha = 2r turns the model to noise; at 0.1
    it changes the most likely next token on most prompts, as a trained adapter may)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.bfloat16)
    config = LoraConfig(r=r, lora_alpha=2 * r, target_modules=list(targets),
                        init_lora_weights=False, task_type="CAUSAL_LM")  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(scale)
    model.save_pretrained(out)
    return out
