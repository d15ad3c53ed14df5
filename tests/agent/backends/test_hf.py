"""What only the in-process `hf` backend does: hidden-state capture, replay, streaming
callbacks, cancellation, seeded sampling, logit bias and the adapter resting state."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from agent.backends.base import BackendError, GenerationOptions
from agent.types import ChatMessage

pytestmark = pytest.mark.model

PROMPT = [ChatMessage(role="user", content="Write a Python function that adds two numbers.")]


def test_hidden_states_match_a_teacher_forced_replay(hf_backend):
    gen = hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=5, capture_layer=15))
    again = hf_backend.replay(PROMPT, gen.token_ids, capture_layer=15)
    assert gen.hidden.shape == again.hidden.shape == (5, hf_backend.hidden_size)
    cos = (gen.hidden * again.hidden).sum(1) / (
        np.linalg.norm(gen.hidden, axis=1) * np.linalg.norm(again.hidden, axis=1)
    )
    # Incremental decoding (KV cache) and one full pass differ only by bf16 rounding.
    assert cos.min() > 0.999
    assert gen.logprobs == pytest.approx(again.logprobs, abs=0.1)
    assert gen.entropies == pytest.approx(again.entropies, abs=0.1)
    assert gen.hidden_layer == again.hidden_layer == 15


def test_negative_capture_layer_counts_from_the_end(hf_backend):
    gen = hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=1, capture_layer=-1))
    assert gen.hidden_layer == hf_backend.num_layers - 1
    with pytest.raises(ValueError, match="out of range"):
        hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=1, capture_layer=99))


def test_streamed_text_adds_up_and_never_shows_the_stop_string(hf_backend):
    pieces: list[str] = []
    full = hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=6))
    stop = " " + full.text.split(" ")[3]
    gen = hf_backend.generate(
        PROMPT, options=GenerationOptions(max_new_tokens=6, stop=[stop]), on_text=pieces.append
    )
    assert "".join(pieces) == gen.text == full.text[: full.text.index(stop)]
    assert len(pieces) >= 2  # streamed, not delivered in one piece at the end


def test_cancel_stops_generation_early(hf_backend):
    cancel = threading.Event()
    gen = hf_backend.generate(
        PROMPT, options=GenerationOptions(max_new_tokens=40), on_text=lambda _: cancel.set(),
        cancel=cancel,
    )  # fmt: skip
    assert gen.usage.completion_tokens <= 3


def test_seeded_sampling_repeats_and_leaves_global_rng_alone(hf_backend):
    opts = GenerationOptions(temperature=1.2, seed=7, max_new_tokens=5)
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = hf_backend.generate(PROMPT, options=opts)
    second = hf_backend.generate(PROMPT, options=opts)
    assert first.text == second.text
    assert torch.rand(1) == expected_next


def test_logit_bias_steers_the_choice_but_logprobs_stay_raw(hf_backend):
    plain = hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=1))
    forced = hf_backend.tokenizer.encode("Sure", add_special_tokens=False)[0]
    assert plain.token_ids[0] != forced
    gen = hf_backend.generate(
        PROMPT, options=GenerationOptions(max_new_tokens=1, logit_bias={forced: 100.0})
    )
    assert gen.token_ids == [forced]
    # The recorded log-probability is the model's own, not the biased distribution's.
    assert gen.logprobs[0] < -0.5


def test_top_logprobs_are_sorted_and_include_the_greedy_choice(hf_backend):
    gen = hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=2, top_logprobs=3))
    assert [len(t) for t in gen.top_logprobs] == [3, 3]
    for step, token, lp in zip(gen.top_logprobs, gen.tokens, gen.logprobs, strict=True):
        assert step[0] == (token, pytest.approx(lp))
        assert [x for _, x in step] == sorted((x for _, x in step), reverse=True)


def test_count_tokens_is_the_rendered_prompt_length(hf_backend):
    text = hf_backend.render(PROMPT)
    assert text.endswith("<|im_start|>assistant\n")
    assert hf_backend.count_tokens(PROMPT) == len(hf_backend.tokenizer(text)["input_ids"])


# ---------------------------------------------------------------------- adapters


def _base_logits(hf_backend) -> torch.Tensor:
    ids = torch.tensor([hf_backend.encode(PROMPT)])
    with torch.inference_mode():
        return hf_backend.base_model(input_ids=ids).logits[0, -1].float()


def test_adapters_are_disabled_between_calls(hf_backend, lora_adapters):
    before = _base_logits(hf_backend)
    hf_backend.load_adapter("alpha", lora_adapters["alpha"])
    try:
        hf_backend.generate(PROMPT, adapter="alpha", options=GenerationOptions(max_new_tokens=1))
        # A plain forward pass after an adapter call is the base model again.
        assert torch.equal(_base_logits(hf_backend), before)
        with hf_backend.using_adapter("alpha") as model, torch.inference_mode():
            ids = torch.tensor([hf_backend.encode(PROMPT)])
            assert not torch.equal(model(input_ids=ids).logits[0, -1].float(), before)
    finally:
        hf_backend.unload_adapter("alpha")


def test_unloading_the_last_adapter_restores_a_plain_model(hf_backend, lora_adapters):
    hf_backend.load_adapter("alpha", lora_adapters["alpha"])
    hf_backend.unload_adapter("alpha")
    assert not any("lora" in name for name, _ in hf_backend.base_model.named_modules())
    assert hf_backend.adapters == {}


def test_loading_under_an_existing_name_replaces_the_adapter(hf_backend, lora_adapters):
    opts = GenerationOptions(max_new_tokens=4)
    hf_backend.load_adapter("beta", lora_adapters["beta"])
    try:
        beta = hf_backend.generate(PROMPT, adapter="beta", options=opts).text
    finally:
        hf_backend.unload_adapter("beta")
    hf_backend.load_adapter("x", lora_adapters["alpha"])
    hf_backend.load_adapter("x", lora_adapters["beta"])
    try:
        assert hf_backend.generate(PROMPT, adapter="x", options=opts).text == beta
        assert hf_backend.adapters == {"x": lora_adapters["beta"]}
    finally:
        hf_backend.unload_adapter("x")


def test_bad_adapter_folders_are_refused(hf_backend, tmp_path):
    with pytest.raises(BackendError, match=r"adapter_config\.json"):
        hf_backend.load_adapter("x", tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "IA3"}))
    with pytest.raises(BackendError, match="only LoRA"):
        hf_backend.load_adapter("x", tmp_path)
    (tmp_path / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "r": 4, "target_modules": ["q_proj"]})
    )
    with pytest.raises(BackendError, match="cannot load adapter"):
        hf_backend.load_adapter("x", tmp_path)  # config but no weights
    assert hf_backend.adapters == {}
    assert not any("lora" in name for name, _ in hf_backend.base_model.named_modules())
    assert not hasattr(hf_backend.base_model, "peft_config")  # no phantom config left


@pytest.mark.gpu
def test_generation_and_capture_on_cuda(embedded_model_dir):
    from agent.backends.hf import HFBackend

    backend = HFBackend(str(embedded_model_dir), device="cuda")
    try:
        gen = backend.generate(
            PROMPT, options=GenerationOptions(max_new_tokens=4, capture_layer=-8, seed=0)
        )
        assert backend.device.startswith("cuda")
        assert gen.usage.completion_tokens == 4 and gen.hidden.shape == (4, backend.hidden_size)
        assert isinstance(gen.hidden, np.ndarray)
    finally:
        backend.close()


def test_lm_head_gets_plain_strides_after_peft_froze_the_weights(hf_backend, lora_adapters):
    # A sliced prefill row with a frozen head weight sends torch 2.13 down a ~1 s
    # batched-matmul path; the backend re-strides the row first (see _canonical_head_input).
    seen = []
    head = hf_backend.base_model.get_output_embeddings()
    handle = head.register_forward_pre_hook(lambda _m, args: seen.append(args[0].stride()))
    hf_backend.load_adapter("alpha", lora_adapters["alpha"])
    hf_backend.unload_adapter("alpha")
    try:
        assert not head.weight.requires_grad  # PEFT froze it, and it stays frozen
        hf_backend.generate(PROMPT, options=GenerationOptions(max_new_tokens=2))
    finally:
        handle.remove()
    hidden = hf_backend.hidden_size
    assert seen == [(hidden, hidden, 1)] * 2
