"""LoRA trainer on a tiny random Qwen2 with a byte-level tokenizer (fast, in process)."""

from __future__ import annotations

import json

import pytest
import torch

from agent.types import TrainingHyperparams
from memory.trainer import (
    QWEN2_PROJECTIONS,
    TrainerConfig,
    TrainingError,
    load_adapter,
    train_lora,
)

from .conftest import build_tiny_model, chat

FACT = chat(("user", "Where does Money live?"), ("assistant", "In ledger/money.py, class Money."))
OTHER = chat(("user", "How do tests run?"), ("assistant", "python -m pytest -q tests"))

# A high learning rate and no dropout: a tiny model must memorise one fact in a few steps.
FAST = dict(learning_rate=1e-2, lora_dropout=0.0, warmup_ratio=0.0, min_lr_ratio=1.0, grad_accum=1)


def probe_logits(model, tokenizer):
    ids = tokenizer("<|im_start|>user\nWhere does Money live?", return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("loss", ["ce", "eaft"])
def test_loss_decreases_on_a_memorisable_example(tiny_model, tiny_tokenizer, loss):
    result = train_lora(
        tiny_model, tiny_tokenizer, [FACT], TrainerConfig(epochs=25, loss=loss, **FAST)
    )
    losses = result.stats.ce_losses
    assert losses[-1] < 0.3 * losses[0], losses


def test_same_seed_gives_identical_training(tiny_tokenizer):
    config = TrainerConfig(epochs=3, seed=7, lora_dropout=0.1)
    a = train_lora(build_tiny_model(), tiny_tokenizer, [FACT, OTHER], config)
    b = train_lora(build_tiny_model(), tiny_tokenizer, [FACT, OTHER], config)
    assert a.stats.losses == b.stats.losses
    assert torch.equal(probe_logits(a.model, tiny_tokenizer), probe_logits(b.model, tiny_tokenizer))


def test_another_seed_gives_another_adapter(tiny_tokenizer):
    a = train_lora(
        build_tiny_model(), tiny_tokenizer, [FACT, OTHER], TrainerConfig(epochs=2, seed=1)
    )
    b = train_lora(
        build_tiny_model(), tiny_tokenizer, [FACT, OTHER], TrainerConfig(epochs=2, seed=2)
    )
    assert not torch.equal(
        probe_logits(a.model, tiny_tokenizer), probe_logits(b.model, tiny_tokenizer)
    )


def test_saved_adapter_reloads_with_identical_logits(tiny_tokenizer, tmp_path):
    result = train_lora(
        build_tiny_model(), tiny_tokenizer, [FACT], TrainerConfig(epochs=5, **FAST), tmp_path / "ad"
    )
    trained = probe_logits(result.model, tiny_tokenizer)
    reloaded = load_adapter(build_tiny_model(), result.adapter_dir)
    assert torch.equal(trained, probe_logits(reloaded, tiny_tokenizer))
    assert not torch.equal(trained, probe_logits(build_tiny_model(), tiny_tokenizer))


def test_saved_layout_is_peft_with_defaults_and_stats(tiny_model, tiny_tokenizer, tmp_path):
    out = train_lora(tiny_model, tiny_tokenizer, [FACT], TrainerConfig(epochs=1), tmp_path / "ad")
    names = sorted(p.name for p in out.adapter_dir.iterdir())
    assert {"adapter_config.json", "adapter_model.safetensors", "training.json"} <= set(names)
    config = json.loads((out.adapter_dir / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"]) == (16, 32)
    assert sorted(config["target_modules"]) == sorted(QWEN2_PROJECTIONS)
    stats = json.loads((out.adapter_dir / "training.json").read_text())
    assert stats["steps"] == out.stats.steps == 1


def test_gradient_accumulation_matches_a_bigger_batch(tiny_tokenizer):
    common = dict(epochs=2, lora_dropout=0.0, shuffle=False)
    split = train_lora(build_tiny_model(), tiny_tokenizer, [FACT, OTHER],
                       TrainerConfig(batch_size=1, grad_accum=2, **common))  # fmt: skip
    whole = train_lora(build_tiny_model(), tiny_tokenizer, [FACT, OTHER],
                       TrainerConfig(batch_size=2, grad_accum=1, **common))  # fmt: skip
    assert split.stats.steps == whole.stats.steps == 2
    assert split.stats.losses == pytest.approx(whole.stats.losses, rel=1e-4)
    assert torch.allclose(
        probe_logits(split.model, tiny_tokenizer),
        probe_logits(whole.model, tiny_tokenizer),
        atol=1e-4,
    )


def test_only_lora_weights_change(tiny_model, tiny_tokenizer):
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    result = train_lora(tiny_model, tiny_tokenizer, [FACT], TrainerConfig(epochs=2, **FAST))
    base = result.model.unload()
    after = base.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_progress_reports_every_step(tiny_model, tiny_tokenizer):
    seen = []
    train_lora(tiny_model, tiny_tokenizer, [FACT, OTHER], TrainerConfig(epochs=2, grad_accum=1),
               progress=seen.append)  # fmt: skip
    assert [p.step for p in seen] == [1, 2, 3, 4] and {p.total_steps for p in seen} == {4}
    assert all(p.elapsed_s > 0 and p.loss > 0 for p in seen)


def test_max_steps_caps_training(tiny_model, tiny_tokenizer):
    result = train_lora(tiny_model, tiny_tokenizer, [FACT], TrainerConfig(epochs=4, max_steps=2))
    assert result.stats.steps == 2 and len(result.stats.losses) == 2


def test_stats_record_time_memory_and_tokens(tiny_model, tiny_tokenizer):
    stats = train_lora(tiny_model, tiny_tokenizer, [FACT], TrainerConfig(epochs=1)).stats
    assert stats.peak_rss_mb and stats.peak_rss_mb > 10
    assert stats.seconds > 0 and stats.seconds_per_step > 0 and stats.seconds_per_example > 0
    assert 0 < stats.target_tokens < stats.sequence_tokens
    assert stats.device == "cpu" and stats.trainable_params > 0


def test_eaft_weights_are_recorded_and_within_range(tiny_model, tiny_tokenizer):
    stats = train_lora(
        tiny_model, tiny_tokenizer, [FACT], TrainerConfig(epochs=2, loss="eaft")
    ).stats
    assert all(0.0 <= w <= 1.0 for w in stats.mean_weights)
    assert all(loss <= ce + 1e-6 for loss, ce in zip(stats.losses, stats.ce_losses, strict=True))


def test_examples_without_assistant_turns_are_skipped_and_listed(tiny_model, tiny_tokenizer):
    stats = train_lora(tiny_model, tiny_tokenizer, [FACT, chat(("user", "hi"))],
                       TrainerConfig(epochs=1)).stats  # fmt: skip
    assert stats.examples == 1 and stats.skipped == ["example 1: no assistant turn"]


def test_nothing_to_learn_is_an_error(tiny_model, tiny_tokenizer):
    with pytest.raises(TrainingError, match="assistant tokens"):
        train_lora(tiny_model, tiny_tokenizer, [chat(("user", "hi"))])


def test_cutting_into_an_assistant_turn_warns(tiny_model, tiny_tokenizer):
    long = chat(("user", "q"), ("assistant", "z" * 200))
    with pytest.warns(UserWarning, match="cut after"):
        stats = train_lora(
            tiny_model, tiny_tokenizer, [long], TrainerConfig(epochs=1, max_seq_len=64)
        ).stats
    assert stats.cut_inside_assistant == 1 and stats.truncated == 1


def test_config_takes_clamped_hyperparameters():
    params = TrainingHyperparams(
        learning_rate=2e-4, epochs=3, lora_rank=8, lora_alpha=16, loss="ce"
    )
    config = TrainerConfig.from_hyperparams(params, max_seq_len=256)
    assert config.hyperparams() == params and config.max_seq_len == 256


def test_bfloat16_model_trains_with_float32_adapter_weights(tiny_tokenizer):
    model = build_tiny_model(dtype="bfloat16")
    result = train_lora(model, tiny_tokenizer, [FACT], TrainerConfig(epochs=8, **FAST))
    lora = [p for n, p in result.model.named_parameters() if "lora_" in n]
    assert result.stats.dtype == "bfloat16" and {p.dtype for p in lora} == {torch.float32}
    assert result.stats.ce_losses[-1] < result.stats.ce_losses[0]
