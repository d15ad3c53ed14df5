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


# --------------------------------------------------------------------------- tiny model

CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + "
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def build_tiny_tokenizer():
    """Byte-level tokenizer (256 bytes + 3 ChatML specials) with a ChatML template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: i for i, ch in enumerate(sorted(ByteLevel.alphabet()))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        chat_template=CHATML,
    )


def build_tiny_model(seed: int = 0, dtype: str = "float32"):
    """A random 2-layer Qwen2 (hidden 64). initializer_range 0.3 (not 0.02) so that its
    logits can actually move: LoRA does not touch the LM head, and a near-zero random
    head caps how far any hidden state can push the loss."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=259,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        initializer_range=0.3,
        bos_token_id=256,
        eos_token_id=258,
        pad_token_id=256,
    )
    torch.manual_seed(seed)
    return Qwen2ForCausalLM(config).to(getattr(torch, dtype)).eval()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return build_tiny_tokenizer()


@pytest.fixture
def tiny_model():
    return build_tiny_model()


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_tokenizer) -> Path:
    """The tiny model and tokenizer saved as a plain HF folder."""
    folder = tmp_path / "tiny-model"
    build_tiny_model().save_pretrained(folder)
    tiny_tokenizer.save_pretrained(folder)
    return folder


def chat(*turns: tuple[str, str]):
    from agent.types import ChatMessage

    return [ChatMessage(role=role, content=content) for role, content in turns]
