"""PeftLM: generation and adapter switching behind the LLMBackend protocol (tiny model)."""

from __future__ import annotations

import pytest
import torch

from agent.backends.base import BackendError, GenerationOptions, LLMBackend
from memory.peft_lm import PeftLM
from memory.trainer import TrainerConfig, train_lora

from .conftest import build_tiny_model, chat

FACT = chat(("user", "Where does Money live?"), ("assistant", "In ledger/money.py."))
PROMPT = chat(("user", "Where does Money live?"))
GREEDY = GenerationOptions(max_new_tokens=12, seed=0)


@pytest.fixture
def trained_adapters(tiny_tokenizer, tmp_path):
    """Two different adapters for the tiny model, saved in PEFT's layout."""
    dirs = []
    for seed in (1, 2):
        config = TrainerConfig(epochs=6, seed=seed, learning_rate=1e-2, lora_dropout=0.0)
        out = train_lora(build_tiny_model(), tiny_tokenizer, [FACT], config, tmp_path / f"a{seed}")
        dirs.append(out.adapter_dir)
    return dirs


@pytest.fixture
def lm(tiny_tokenizer):
    return PeftLM(build_tiny_model(), tiny_tokenizer, "tiny")


def logits(lm: PeftLM, adapter: str | None):
    ids = lm.tokenizer("<|im_start|>user\nWhere", return_tensors="pt")["input_ids"]
    with lm.active(adapter) as model, torch.inference_mode():
        return model(input_ids=ids).logits


def test_implements_the_backend_protocol(lm):
    assert isinstance(lm, LLMBackend)


def test_greedy_generation_is_deterministic_and_counts_tokens(lm):
    a, b = lm.generate(PROMPT, options=GREEDY), lm.generate(PROMPT, options=GREEDY)
    assert a.text == b.text and a.token_ids == b.token_ids
    assert a.usage.prompt_tokens == lm.count_tokens(PROMPT)
    assert 0 < a.usage.completion_tokens <= 12


def test_hitting_max_new_tokens_reports_length(lm):
    gen = lm.generate(PROMPT, options=GenerationOptions(max_new_tokens=3))
    assert gen.finish_reason in ("length", "stop") and len(gen.token_ids) <= 3


def test_adapter_changes_the_output_and_base_stays_reachable(lm, trained_adapters):
    base = logits(lm, None)
    lm.load_adapter("one", trained_adapters[0])
    assert not torch.equal(logits(lm, "one"), base)
    assert torch.equal(logits(lm, None), base)


def test_adapters_do_not_leak_into_each_other(lm, trained_adapters, tiny_tokenizer):
    alone = PeftLM(build_tiny_model(), tiny_tokenizer, "tiny")
    alone.load_adapter("two", trained_adapters[1])
    expected = logits(alone, "two")
    lm.load_adapter("one", trained_adapters[0])
    lm.load_adapter("two", trained_adapters[1])
    assert torch.equal(logits(lm, "two"), expected)
    assert not torch.equal(logits(lm, "one"), expected)


def test_unloading_the_last_adapter_restores_the_plain_base(lm, trained_adapters):
    base = logits(lm, None)
    lm.load_adapter("one", trained_adapters[0])
    lm.unload_adapter("one")
    assert lm.peft is None and torch.equal(logits(lm, None), base)
    assert not any("lora_" in name for name, _ in lm.base.named_parameters())


def test_generating_with_an_unknown_adapter_is_an_error(lm):
    with pytest.raises(BackendError, match="not loaded"):
        lm.generate(PROMPT, adapter="nope", options=GREEDY)


def test_a_folder_without_an_adapter_is_refused(lm, tmp_path):
    with pytest.raises(BackendError, match=r"adapter_config\.json"):
        lm.load_adapter("x", tmp_path)


def test_stop_strings_end_the_text(lm):
    full = lm.generate(PROMPT, options=GREEDY).text
    if len(full) < 2:
        pytest.fail(f"tiny model generated too little to test stops: {full!r}")
    stop = full[1:2]
    cut = lm.generate(PROMPT, options=GenerationOptions(max_new_tokens=12, stop=[stop]))
    assert stop not in cut.text and full.startswith(cut.text)
