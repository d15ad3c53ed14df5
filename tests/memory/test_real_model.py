"""The real embedded model: LoRA training, adapter reload, held-out loss, HumanEval in Docker.

Kept short (a few steps, two problems): five engineers share two cores.
"""

from __future__ import annotations

import pytest
import torch

from agent.types import ChatMessage
from memory.heldout import heldout_loss
from memory.humaneval import run_humaneval, scratch_sandbox, subset
from memory.peft_lm import PeftLM
from memory.trainer import TrainerConfig, load_adapter, train_lora

pytestmark = [pytest.mark.model, pytest.mark.slow]

FACT = [
    ChatMessage(role="user", content="In the ledger repository, which module defines Money?"),
    ChatMessage(
        role="assistant", content="Money is defined in ledger/amounts.py, next to Currency."
    ),
]


@pytest.fixture(scope="module")
def embedded(embedded_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    model = AutoModelForCausalLM.from_pretrained(embedded_model_dir, dtype=torch.bfloat16)
    return model.eval(), tokenizer


def probe(model, tokenizer):
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": FACT[0].content}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return model(input_ids=ids).logits


def test_lora_steps_lower_the_loss_and_the_adapter_reloads_identically(embedded, tmp_path):
    model, tokenizer = embedded
    config = TrainerConfig(
        epochs=3, grad_accum=1, learning_rate=3e-4, lora_dropout=0.0, warmup_ratio=0.0,
        min_lr_ratio=1.0, loss="eaft",
    )  # fmt: skip
    result = train_lora(model, tokenizer, [FACT], config, tmp_path / "adapter")
    try:
        stats = result.stats
        assert stats.dtype == "bfloat16" and stats.steps == 3
        assert stats.ce_losses[-1] < 0.7 * stats.ce_losses[0], stats.ce_losses
        assert stats.trainable_params == 8_798_208  # r=16 on all 7 projections, 24 layers
        trained = probe(result.model, tokenizer)
    finally:
        base = result.model.unload()  # the module's model must leave this test as it came
    reloaded = load_adapter(base, result.adapter_dir)
    try:
        assert torch.equal(probe(reloaded, tokenizer), trained)
    finally:
        reloaded.unload()


def test_heldout_loss_of_the_real_model_is_that_of_a_code_model(embedded):
    model, tokenizer = embedded
    result = heldout_loss(model, tokenizer, window=256, max_windows=1)
    # A coder model reads stdlib code at well under 2 nats/token; an untrained one at ~12.
    assert 0.1 < result.mean_loss < 2.0 and result.tokens == 8 * 255


@pytest.mark.docker
def test_humaneval_on_two_problems_in_the_docker_sandbox(embedded, sandbox_image):
    model, tokenizer = embedded
    lm = PeftLM(model, tokenizer, "Qwen/Qwen2.5-Coder-0.5B-Instruct")
    with scratch_sandbox() as box:
        result = run_humaneval(lm, box, subset(2), max_new_tokens=320)
    assert result.total == 2 and result.task_ids == ["HumanEval/0", "HumanEval/82"]
    assert all(s.generated_tokens > 0 and s.outcome != "no_code" for s in result.samples)
    # Greedy decoding is deterministic: the 0.5B coder solves both of these easy ones here.
    assert result.passed == 2, [s.output_tail for s in result.samples]
