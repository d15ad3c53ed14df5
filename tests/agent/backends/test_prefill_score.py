"""Prefill (`GenerationOptions.prefix`) and scoring (`CompletionScorer.score`): what the
small-model policy builds on. The real model where it matters (prefill on `hf` and
`llamacpp`, the CPU default); fake and openai for the refusals."""

from __future__ import annotations

import pytest

from agent.backends.base import (
    BackendCapabilities,
    BackendError,
    CompletionScorer,
    Generation,
    GenerationOptions,
)
from agent.backends.fake import FakeBackend
from agent.types import ChatMessage

PROMPT = [ChatMessage(role="user", content="Write a Python function that adds two numbers.")]


def greedy(n: int, **kw) -> GenerationOptions:
    return GenerationOptions(temperature=0.0, seed=0, max_new_tokens=n, **kw)


PREFILLING = ["hf_backend", "llamacpp_backend"]


@pytest.mark.model
@pytest.mark.parametrize("name", PREFILLING)
def test_a_prefix_is_continued_and_left_out_of_the_text(name, request):
    backend = request.getfixturevalue(name)
    assert backend.capabilities.prefill
    full = backend.generate(PROMPT, options=greedy(12))
    cut = "".join(full.tokens[:5])  # on a token boundary of the greedy reply
    cont = backend.generate(PROMPT, options=greedy(7, prefix=cut, capture_layer=-1))
    assert not cont.text.startswith(cut)
    # Greedy decoding after the forced start is the greedy reply's own continuation.
    assert (cut + cont.text) == full.text
    assert cont.usage.completion_tokens == 7
    assert len(cont.logprobs) == len(cont.tokens) == 7
    assert cont.hidden.shape[0] == 7  # the forced tokens have no rows
    # The forced start counts as prompt.
    assert cont.usage.prompt_tokens == full.usage.prompt_tokens + 5


@pytest.mark.model
@pytest.mark.parametrize("name", PREFILLING)
def test_a_prefix_steers_the_reply(name, request):
    backend = request.getfixturevalue(name)
    gen = backend.generate(PROMPT, options=greedy(8, prefix="```python\ndef plus("))
    assert "def plus(" not in gen.text
    assert gen.text.split(")")[0].count(",") == 1  # it went on with the two parameters


@pytest.mark.model
def test_score_matches_what_generation_recorded(hf_backend):
    assert isinstance(hf_backend, CompletionScorer) and hf_backend.capabilities.scoring
    gen = hf_backend.generate(PROMPT, options=greedy(10, top_logprobs=3))
    scored = hf_backend.score(PROMPT, gen.text, top_logprobs=3)
    assert scored.text == gen.text
    assert scored.token_ids == gen.token_ids
    assert scored.usage.completion_tokens == len(gen.token_ids)
    # One full pass and incremental decoding differ only by bf16 rounding.
    assert scored.logprobs == pytest.approx(gen.logprobs, abs=0.1)
    assert scored.entropies == pytest.approx(gen.entropies, abs=0.1)
    # Greedy picked the most likely token at every position.
    assert [row[0][0] for row in scored.top_logprobs] == scored.tokens
    assert all(len(row) == 3 for row in scored.top_logprobs)


@pytest.mark.model
def test_score_ranks_a_likely_reply_above_an_unlikely_one(hf_backend):
    question = [ChatMessage(role="user", content="Is 7 a prime number? Answer yes or no.")]
    yes = hf_backend.score(question, "Yes")
    no = hf_backend.score(question, "No")
    assert sum(yes.logprobs) > sum(no.logprobs)
    with pytest.raises(ValueError):
        hf_backend.score(question, "")


def test_fake_refuses_a_prefix_without_the_capability():
    backend = FakeBackend(["x"])
    with pytest.raises(ValueError, match="prefill"):
        backend.generate(PROMPT, options=GenerationOptions(prefix="```"))
    able = FakeBackend(["rest"], capabilities=BackendCapabilities(prefill=True))
    assert able.generate(PROMPT, options=GenerationOptions(prefix="```")).text == "rest"
    assert able.calls[0][2].prefix == "```"


def test_fake_scores_through_its_scorer_and_records_the_call():
    backend = FakeBackend(
        [], scorer=lambda messages, reply: Generation(text=reply, logprobs=[-1.0])
    )
    assert backend.score(PROMPT, "B").logprobs == [-1.0]
    assert backend.scored == [(PROMPT, "B")]
    with pytest.raises(BackendError, match="no scorer"):
        FakeBackend([]).score(PROMPT, "B")


@pytest.mark.model
def test_openai_refuses_a_prefix(openai_backend):
    assert not openai_backend.capabilities.prefill
    with pytest.raises(ValueError, match="prefill"):
        openai_backend.generate(PROMPT, options=GenerationOptions(prefix="```"))
