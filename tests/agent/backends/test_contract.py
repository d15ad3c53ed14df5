"""The LLMBackend contract, checked against every implementation.

`hf` runs the real embedded model in process; `llamacpp` runs its GGUF in process
through llama.cpp (`llamacpp_merged`: the same with adapters merged into models of their
own, `slow`: each adapter is a real merge + conversion + quantization); `openai` talks to a real `engram serve` started for the session (the
same model behind HTTP); `fake` takes part where the
property means something for a scripted backend. Generations stay short (≤ 24 tokens:
the model decodes ~11 tokens/s on two cores) and are shared through caches where a
test only needs to compare against them.
"""

from __future__ import annotations

import numpy as np
import pytest

from agent.backends.base import BackendError, Generation, GenerationOptions, LLMBackend
from agent.backends.fake import FakeBackend
from agent.types import ChatMessage, ToolCall, ToolSpec
from tools.types import ToolParam

PROMPT = [ChatMessage(role="user", content="Write a Python function that adds two numbers.")]
# The embedded 0.5B model answers this with a get_weather call under greedy decoding.
WEATHER = [ChatMessage(role="user", content="What is the weather like in Paris today?")]
WEATHER_TOOL = ToolSpec(
    name="get_weather",
    summary="Get the current weather in a city",
    params=[ToolParam(name="city", description="city name")],
)

REAL = [
    pytest.param("hf", marks=pytest.mark.model),
    pytest.param("llamacpp", marks=pytest.mark.model),
    pytest.param("llamacpp_merged", marks=[pytest.mark.model, pytest.mark.slow]),
    pytest.param("openai", marks=pytest.mark.model),
]
ALL = [pytest.param("fake"), *REAL]
N = 6  # tokens for the shared reference replies


def greedy(max_new_tokens: int = N, **kw) -> GenerationOptions:
    return GenerationOptions(temperature=0.0, seed=0, max_new_tokens=max_new_tokens, **kw)


def _open(request, kind: str) -> LLMBackend:
    if kind == "fake":
        return FakeBackend(script=[], capabilities=None)
    return request.getfixturevalue(f"{kind}_backend")


@pytest.fixture(params=ALL)
def backend(request) -> LLMBackend:
    return _open(request, request.param)


@pytest.fixture(params=REAL)
def real_backend(request) -> LLMBackend:
    return _open(request, request.param)


_reference: dict[tuple[str, str | None, str | None], Generation] = {}


def reference(backend: LLMBackend, adapter: str | None = None) -> Generation:
    """The greedy N-token reply to PROMPT, generated once per backend and adapter."""
    key = (backend.name, getattr(backend, "adapter_mode", None), adapter)
    if key not in _reference:
        _reference[key] = backend.generate(PROMPT, adapter=adapter, options=greedy())
    return _reference[key]


# ---------------------------------------------------------------------- basics


def test_implements_protocol(backend):
    assert isinstance(backend, LLMBackend)
    assert backend.name in ("fake", "hf", "llamacpp", "openai")


def test_greedy_with_seed_is_deterministic(real_backend):
    first = real_backend.generate(PROMPT, options=greedy())
    second = real_backend.generate(PROMPT, options=greedy())
    assert first.text == second.text
    assert first.text  # something was generated
    assert first.logprobs == pytest.approx(second.logprobs, abs=1e-6)


def test_max_new_tokens_is_respected(real_backend):
    gen = real_backend.generate(PROMPT, options=greedy(3))
    assert gen.usage.completion_tokens == 3
    assert gen.finish_reason == "length"
    assert len(gen.logprobs) == 3


def test_stop_string_ends_the_text_before_it(real_backend):
    full = reference(real_backend).text
    words = full.split(" ")
    assert len(words) >= 4, full
    stop = " " + words[2]
    gen = real_backend.generate(PROMPT, options=greedy(stop=[stop]))
    assert gen.text == full[: full.index(stop)]
    assert gen.finish_reason == "stop"
    assert gen.usage.completion_tokens < N


def test_usage_counts_prompt_and_completion(backend):
    if isinstance(backend, FakeBackend):
        backend.script = ["one two three"]
    gen = backend.generate(PROMPT, options=greedy(4))
    assert gen.usage.prompt_tokens == backend.count_tokens(PROMPT)
    assert 1 <= gen.usage.completion_tokens <= (3 if isinstance(backend, FakeBackend) else 4)
    if gen.logprobs is not None:
        assert len(gen.logprobs) == gen.usage.completion_tokens


def test_native_tool_call_is_parsed(backend):
    if isinstance(backend, FakeBackend):
        call = ToolCall(name="get_weather", arguments={"city": "Paris"}, id="call_1")
        backend.script = [Generation(text="", tool_calls=[call], finish_reason="tool_calls")]
    gen = backend.generate(WEATHER, tools=[WEATHER_TOOL], options=greedy(24))
    assert [(c.name, c.arguments) for c in gen.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert gen.finish_reason == "tool_calls"
    assert all(c.id for c in gen.tool_calls)


def test_logprobs_and_hidden_states_exactly_where_capabilities_say(backend):
    if isinstance(backend, FakeBackend):
        backend.script = ["scripted reply"]
    gen = backend.generate(PROMPT, options=greedy(3, capture_layer=-8))
    caps = backend.capabilities
    assert (gen.logprobs is not None) == caps.logprobs
    assert (gen.hidden is not None) == caps.hidden_states
    if caps.logprobs:
        assert len(gen.logprobs) == len(gen.tokens) == 3
        assert all(lp <= 0.0 for lp in gen.logprobs)
    if caps.hidden_states:
        assert isinstance(gen.hidden, np.ndarray) and gen.hidden.dtype == np.float32
        assert gen.hidden.shape == (len(gen.token_ids), backend.hidden_size)
        assert np.isfinite(gen.hidden).all()


# ---------------------------------------------------------------------- adapters


def test_unknown_adapter_is_refused(backend):
    if isinstance(backend, FakeBackend):
        backend.script = ["never used"]
    with pytest.raises(BackendError):
        backend.generate(PROMPT, adapter="not-loaded", options=greedy(2))


@pytest.fixture
def loaded(real_backend, lora_adapters):
    """Both test adapters loaded for the duration of one test."""
    for name, path in lora_adapters.items():
        real_backend.load_adapter(name, path)
    yield real_backend
    for name in lora_adapters:
        real_backend.unload_adapter(name)


def test_adapter_changes_the_output(loaded):
    base = reference(loaded).text
    assert reference(loaded, "alpha").text != base
    assert reference(loaded, "beta").text != base


def test_adapters_do_not_leak_into_each_other(loaded):
    alpha = reference(loaded, "alpha").text
    beta = reference(loaded, "beta").text
    assert alpha != beta
    # alpha again after beta ran: exactly alpha, with nothing of beta left in the weights
    assert loaded.generate(PROMPT, adapter="alpha", options=greedy()).text == alpha


def test_no_adapter_gives_the_base_output_again(loaded):
    reference(loaded, "alpha")
    reference(loaded, "beta")
    assert loaded.generate(PROMPT, adapter=None, options=greedy()).text == reference(loaded).text


def test_unloaded_adapter_is_refused(real_backend, lora_adapters):
    real_backend.load_adapter("gone", lora_adapters["alpha"])
    real_backend.unload_adapter("gone")
    with pytest.raises(BackendError):
        real_backend.generate(PROMPT, adapter="gone", options=greedy(2))


def test_fake_adapters_are_bookkept():
    fake = FakeBackend(script=["a"])
    fake.load_adapter("x", __file__)
    assert fake.generate(PROMPT, adapter="x").text == "a"
    fake.unload_adapter("x")
    with pytest.raises(BackendError):
        fake.generate(PROMPT, adapter="x")
