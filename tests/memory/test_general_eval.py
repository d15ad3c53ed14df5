"""Held-out likelihood and the general evaluation wrapper (tiny model; no HumanEval)."""

from __future__ import annotations

import hashlib
import math

import pytest

from memory.general_eval import GeneralEvalConfig, evaluate_general
from memory.heldout import CORPUS, HeldOutCorpusError, corpus_texts, heldout_loss
from memory.peft_lm import PeftLM
from memory.trainer import TrainerConfig, train_lora

from .conftest import build_tiny_model, chat

SHORT = dict(window=128, max_windows=1)


def test_the_corpus_is_found_and_matches_the_recorded_hashes():
    texts = corpus_texts()
    assert sorted(texts) == sorted(CORPUS)
    for name, text in texts.items():
        assert hashlib.sha256(text.encode()).hexdigest() == CORPUS[name]


def test_a_changed_corpus_file_is_refused(tmp_path):
    for name in CORPUS:
        (tmp_path / name).write_text("# not the recorded file\n")
    with pytest.raises(HeldOutCorpusError, match=r"Python 3\.11"):
        corpus_texts([tmp_path])


def test_heldout_loss_is_deterministic_and_token_weighted(tiny_tokenizer):
    model = build_tiny_model()
    a = heldout_loss(model, tiny_tokenizer, **SHORT)
    b = heldout_loss(model, tiny_tokenizer, **SHORT)
    assert a.mean_loss == b.mean_loss and a.tokens == 8 * 127
    weighted = sum(f.loss * f.tokens for f in a.files) / a.tokens
    assert math.isclose(a.mean_loss, weighted, rel_tol=1e-9)
    assert math.isclose(a.perplexity, math.exp(a.mean_loss))


def test_corpus_id_changes_with_the_windowing(tiny_tokenizer):
    model = build_tiny_model()
    one = heldout_loss(model, tiny_tokenizer, window=64, max_windows=1)
    two = heldout_loss(model, tiny_tokenizer, window=64, max_windows=2)
    assert one.corpus_id != two.corpus_id and two.tokens == 2 * one.tokens


@pytest.fixture
def adapter_dir(tiny_tokenizer, tmp_path):
    examples = [chat(("user", "show bisect"), ("assistant", "def insort(a, x):\n    pass\n"))]
    config = TrainerConfig(epochs=4, learning_rate=1e-2, lora_dropout=0.0)
    return train_lora(
        build_tiny_model(), tiny_tokenizer, examples, config, tmp_path / "ad"
    ).adapter_dir


def test_general_eval_with_an_adapter_differs_and_leaves_the_model_as_it_was(
    tiny_tokenizer, adapter_dir
):
    lm = PeftLM(build_tiny_model(), tiny_tokenizer, "tiny")
    config = GeneralEvalConfig(humaneval_n=0, heldout_window=128, heldout_max_windows=1)
    base = evaluate_general(lm, None, None, config)
    adapted = evaluate_general(lm, None, adapter_dir, config)
    again = evaluate_general(lm, None, None, config)
    assert adapted.heldout.mean_loss != base.heldout.mean_loss
    assert again.heldout.mean_loss == base.heldout.mean_loss and lm.adapters == {}
    assert set(adapted.metrics()) == {"heldout_loss"} and adapted.adapter == str(adapter_dir)


def test_humaneval_without_a_sandbox_is_refused(tiny_tokenizer):
    lm = PeftLM(build_tiny_model(), tiny_tokenizer, "tiny")
    with pytest.raises(ValueError, match="sandbox"):
        evaluate_general(lm, None, None, GeneralEvalConfig(humaneval_n=1, heldout=False))
