"""The llamacpp backend's `merged` adapter mode on a real, small conversion.

A tiny Qwen2 model (2 layers, hidden size 64, the embedded model's real tokenizer, random
weights) is converted by llama.cpp's own converter and quantized to Q4_K_M as the base;
LoRA adapters made by PEFT are merged into it through the whole pipeline (PEFT merge →
convert_hf_to_gguf.py → llama_model_quantize) and run in llama.cpp. The same checks on
the embedded model itself (agreement with transformers) are in test_llamacpp.py
(`slow`: a real 0.5B build takes about a minute). Unmarked, the module makes one tiny
base and one merged build (~30 CPU seconds, most of it the converter's and the merge's
processes importing torch); the `slow` tests make two more.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from agent.backends.base import BackendError, GenerationOptions
from agent.types import ChatMessage

pytestmark = pytest.mark.model

Q4_K_M = 15
PROMPT = [ChatMessage(role="user", content="Write a Python function that adds two numbers.")]
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def _tiny_config(hidden: int = 64):
    from transformers import Qwen2Config

    return Qwen2Config(vocab_size=151936, hidden_size=hidden, intermediate_size=2 * hidden,
                       num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                       max_position_embeddings=4096, tie_word_embeddings=False,
                       bos_token_id=151643, eos_token_id=151645)  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, embedded_model_dir) -> Path:
    """A tiny model laid out as `engram models fetch` lays out a real one: the GGUF in
    gguf/, the HF folder it was made from in hf/ with a manifest naming the GGUF."""
    import torch
    from transformers import Qwen2ForCausalLM

    from agent.backends.llamacpp_lib import quantize
    from agent.backends.merged_gguf import _convert

    root = tmp_path_factory.mktemp("tiny-qwen2")
    hf = root / "hf"
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = Qwen2ForCausalLM(_tiny_config()).to(torch.bfloat16)
    model.save_pretrained(hf)
    for name in TOKENIZER_FILES:
        shutil.copyfile(embedded_model_dir / name, hf / name)
    (root / "gguf").mkdir()
    f16 = root / "tiny.f16.gguf"
    _convert(hf, f16, "f16", report=lambda _t: None)
    gguf = root / "gguf" / "tiny-q4_k_m.gguf"
    quantize(f16, gguf, Q4_K_M, threads=1)
    f16.unlink()
    sha = hashlib.sha256(gguf.read_bytes()).hexdigest()
    manifest = {"model_id": "tiny-qwen2", "source": gguf.name, "source_sha256": sha}
    (hf / "engram-model.json").write_text(json.dumps(manifest))
    return gguf


def _lora(hf_dir: Path, out: Path, *, zero: bool, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.bfloat16)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                        init_lora_weights=zero, task_type="CAUSAL_LM")  # fmt: skip
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        get_peft_model(base, config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def adapter(tiny, tmp_path_factory) -> Path:
    """A random LoRA (B not zero): it changes the tiny model's output."""
    return _lora(tiny.parent.parent / "hf", tmp_path_factory.mktemp("lora") / "random", zero=False)


@pytest.fixture(scope="module")
def merged_backend(tiny, adapter, tmp_path_factory):
    from agent.backends.llamacpp import LlamaCppBackend

    home = tmp_path_factory.mktemp("home")
    backend = LlamaCppBackend(str(tiny), threads=1, context_tokens=1024, home_root=home,
                              adapter_mode="merged")  # fmt: skip
    backend.load_adapter("repo", adapter)
    yield backend
    backend.close()


def _tensors(path: Path) -> dict[str, tuple[str, bytes]]:
    from gguf import GGUFReader

    reader = GGUFReader(str(path))
    return {t.name: (t.tensor_type.name, bytes(t.data.tobytes())) for t in reader.tensors}


@pytest.mark.slow  # one more build (~20 s of subprocess start-up)
def test_a_zero_adapter_merges_to_the_base_models_exact_tensors(tiny, tmp_path):
    """PEFT's default init (B = 0) adds nothing: the pipeline must then reproduce the
    base GGUF tensor for tensor — same quantization types, same bytes."""
    from agent.backends.merged_gguf import merged_gguf

    zero = _lora(tiny.parent.parent / "hf", tmp_path / "zero", zero=True)
    gguf, times = merged_gguf(zero, tiny.parent.parent / "hf", "base-sha", Q4_K_M,
                              home_root=tmp_path / "home", report=lambda _t: None)  # fmt: skip
    assert gguf == zero / "merged.Q4_K_M.gguf"
    assert times.merge_s > 0 and times.convert_s > 0 and times.quantize_s > 0
    base, merged = _tensors(tiny), _tensors(gguf)
    assert sorted(merged) == sorted(base)
    types = {name: kind for name, (kind, _) in merged.items()}
    assert types == {name: kind for name, (kind, _) in base.items()}
    assert "Q5_0" in types.values() or "Q4_K" in types.values()  # it was quantized
    different = [name for name in base if base[name][1] != merged[name][1]]
    assert different == []
    # nothing of the build is left beside the result
    assert sorted(p.name for p in zero.iterdir() if p.name.startswith(".")) == []


def test_the_merged_model_is_base_plus_adapter(tiny, adapter, merged_backend):
    """llama.cpp running the merged GGUF agrees with transformers running base + PEFT
    adapter far better than with the base alone."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from agent.backends.agreement import compare

    hf_dir = tiny.parent.parent / "hf"
    prompts = [[ChatMessage(role="user", content=t)] for t in
               ("Add two numbers.", "What is git?", "Sort a list in Python.")]  # fmt: skip
    base = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    plain = [merged_backend.next_logits(p) for p in prompts]
    merged = [merged_backend.next_logits(p, adapter="repo") for p in prompts]
    ids = [merged_backend.encode(p) for p in prompts]
    with torch.inference_mode():
        hf_base = [base(input_ids=torch.tensor([i])).logits[0, -1].numpy() for i in ids]
        peft = PeftModel.from_pretrained(base, str(adapter))
        hf_adapted = [peft(input_ids=torch.tensor([i])).logits[0, -1].numpy() for i in ids]
    with_adapter = compare(merged, hf_adapted)
    without = compare(plain, hf_adapted)
    assert compare(plain, hf_base).corr_min > 0.9  # the base itself converts faithfully
    assert with_adapter.corr_min > 0.9, with_adapter
    assert (1 - with_adapter.corr_mean) < 0.5 * (1 - without.corr_mean), (with_adapter, without)


def test_the_build_is_cached_next_to_the_adapter(tiny, adapter, merged_backend, tmp_path):
    from agent.backends.merged_gguf import cached_merged, merged_gguf

    gguf, build, load_s = merged_backend.merged_info("repo")
    assert gguf == adapter / "merged.Q4_K_M.gguf"
    assert build.total_s > 0 and load_s > 0
    stamp = json.loads((adapter / "merged.Q4_K_M.gguf.json").read_text())
    assert stamp["file_type"] == str(Q4_K_M)
    assert stamp["base_sha256"] == merged_backend.model_sha256
    again, times = merged_gguf(adapter, tiny.parent.parent / "hf", stamp["base_sha256"], Q4_K_M,
                               report=lambda _t: None)  # fmt: skip
    assert again == gguf and times.total_s == 0
    # Another base, or a changed adapter, is not served from this cache.
    assert cached_merged(adapter, "another-base", Q4_K_M) is None
    changed = tmp_path / "changed"
    shutil.copytree(adapter, changed)
    weights = changed / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes() + b" ")
    assert cached_merged(changed, stamp["base_sha256"], Q4_K_M) is None
    assert cached_merged(adapter, stamp["base_sha256"], Q4_K_M) == gguf


def test_generate_with_a_merged_adapter_runs_the_merged_model(tiny, merged_backend):
    from agent.backends.llamacpp import LlamaCppBackend

    options = GenerationOptions(max_new_tokens=8, capture_layer=1)
    base_first = merged_backend.generate(PROMPT, options=options)
    adapted = merged_backend.generate(PROMPT, adapter="repo", options=options)
    assert adapted.hidden is not None and adapted.hidden.shape == (len(adapted.token_ids), 64)
    assert merged_backend.cache_stats.last_reused_tokens == 0  # another model: no reuse
    base_again = merged_backend.generate(PROMPT, options=options)
    assert base_again.token_ids == base_first.token_ids
    gguf, _, _ = merged_backend.merged_info("repo")
    direct = LlamaCppBackend(str(gguf), threads=1, context_tokens=1024)
    try:
        alone = direct.generate(PROMPT, options=options)
    finally:
        direct.close()
    assert alone.token_ids == adapted.token_ids
    assert adapted.logprobs == pytest.approx(alone.logprobs, abs=1e-4)
    assert not np.allclose(adapted.hidden, base_first.hidden)


def test_merged_adapters_are_bookkept_like_runtime_ones(tiny, adapter, tmp_path):
    from agent.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(str(tiny), threads=1, context_tokens=512, home_root=tmp_path,
                              adapter_mode="merged")  # fmt: skip
    try:
        backend.load_adapter("a", adapter)  # cached by now: a model load only
        assert backend.adapters == {"a": adapter}
        assert backend.merged_info("a")[1].total_s == 0
        with pytest.raises(BackendError, match="merged"):
            backend.set_adapter_scale("a", 0.5)
        backend.generate(PROMPT, adapter="a", options=GenerationOptions(max_new_tokens=2))
        backend.unload_adapter("a")
        assert backend.adapters == {}
        with pytest.raises(BackendError, match="not loaded"):
            backend.generate(PROMPT, adapter="a", options=GenerationOptions(max_new_tokens=2))
        assert backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=2)).token_ids
    finally:
        backend.close()


@pytest.mark.slow  # one more build (~20 s of subprocess start-up)
def test_an_adapter_of_another_model_is_refused_with_a_reason(tiny, tmp_path):
    import torch
    from transformers import Qwen2ForCausalLM

    from agent.backends.llamacpp import LlamaCppBackend

    other = tmp_path / "other-hf"
    Qwen2ForCausalLM(_tiny_config(hidden=32)).to(torch.bfloat16).save_pretrained(other)
    foreign = _lora(other, tmp_path / "foreign", zero=False)
    backend = LlamaCppBackend(str(tiny), threads=1, context_tokens=512, home_root=tmp_path,
                              adapter_mode="merged")  # fmt: skip
    try:
        with pytest.raises(BackendError, match="LoRA adapter of this model"):
            backend.load_adapter("foreign", foreign)
        assert backend.adapters == {}
        assert not any(p.name.startswith(".merged-build") for p in foreign.iterdir())
    finally:
        backend.close()


def test_adapter_mode_comes_from_the_config(tiny, tmp_path):
    from agent.backends.llamacpp import LlamaCppBackend
    from agent.config import ModelSection
    from agent.home import Home

    section = ModelSection(name=str(tiny), backend="llamacpp", adapter_mode="merged",
                           threads=1, context_tokens=512)  # fmt: skip
    backend = LlamaCppBackend.from_config(section, Home(tmp_path))
    try:
        assert backend.adapter_mode == "merged"
    finally:
        backend.close()
    assert (ModelSection().adapter_mode, ModelSection().merged_type) == ("merged", "Q8_0")
    with pytest.raises(ValueError, match="adapter_mode"):
        LlamaCppBackend(str(tiny), adapter_mode="baked")
    with pytest.raises(ValueError, match=r"unknown llama\.cpp file type"):
        LlamaCppBackend(str(tiny), adapter_mode="merged", merged_type="Q9_9")
