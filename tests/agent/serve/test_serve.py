"""`engram serve` over real HTTP: a server process started from the CLI with the real
embedded model, spoken to with httpx and with the `openai` backend."""

from __future__ import annotations

import json

import httpx
import pytest

from agent.backends.base import GenerationOptions
from agent.backends.openai import OpenAIBackend
from agent.types import ChatMessage

pytestmark = pytest.mark.model

NAME = "engram-test"  # the served model name (tests/agent/conftest.py)
HELLO = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "city name"}},
            "required": ["city"],
        },
    },
}
WEATHER = [{"role": "user", "content": "What is the weather like in Paris today?"}]


def post(url: str, path: str, body, **kw) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(f"{url}/{path}", content=content, timeout=300, **kw)


def events(response: httpx.Response) -> list:
    out = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line[len("data: ") :]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def completion(**extra) -> dict:
    return {"model": NAME, "messages": HELLO, "max_tokens": 5, "temperature": 0, **extra}


# ---------------------------------------------------------------------- completions


def test_non_streaming_completion_is_openai_shaped(engram_server):
    r = post(engram_server, "chat/completions", completion())
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
    assert body["model"] == NAME
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"]
    assert choice["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 5
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + 5


def test_streaming_sends_the_same_text_in_chunks_and_ends_with_done(engram_server):
    plain = post(engram_server, "chat/completions", completion()).json()
    r = post(
        engram_server, "chat/completions",
        completion(stream=True, stream_options={"include_usage": True}),
    )  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    chunks = events(r)
    assert chunks[-1] == "[DONE]"
    data = chunks[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in data)
    assert data[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in data if c["choices"])
    assert text == plain["choices"][0]["message"]["content"]
    assert sum(1 for c in data if c["choices"] and c["choices"][0]["delta"].get("content")) >= 2
    finals = [c["choices"][0]["finish_reason"] for c in data if c["choices"]]
    assert finals[-1] == "length"
    assert data[-1]["choices"] == [] and data[-1]["usage"]["completion_tokens"] == 5


def test_logprobs_come_with_top_alternatives_and_entropy(engram_server):
    body = post(engram_server, "chat/completions", completion(logprobs=True, top_logprobs=2)).json()
    items = body["choices"][0]["logprobs"]["content"]
    assert len(items) == 5
    for item in items:
        assert item["logprob"] <= 0 and item["bytes"] == list(item["token"].encode())
        assert len(item["top_logprobs"]) == 2 and item["top_logprobs"][0]["token"] == item["token"]
        assert item["entropy"] >= 0
    assert "".join(i["token"] for i in items) == body["choices"][0]["message"]["content"]


def test_streamed_tool_call_arrives_as_a_tool_calls_delta(engram_server):
    r = post(
        engram_server, "chat/completions",
        {"model": NAME, "messages": WEATHER, "tools": [WEATHER_TOOL], "max_tokens": 24,
         "temperature": 0, "stream": True},
    )  # fmt: skip
    data = [c for c in events(r) if c != "[DONE]"]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in data)
    calls = [t for c in data for t in c["choices"][0]["delta"].get("tool_calls") or []]
    assert content == ""  # the call's JSON is not leaked as text
    assert [(t["function"]["name"], json.loads(t["function"]["arguments"])) for t in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert data[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_tool_choice_none_offers_no_tools(engram_server):
    body = post(
        engram_server, "chat/completions",
        {"model": NAME, "messages": WEATHER, "tools": [WEATHER_TOOL], "tool_choice": "none",
         "max_tokens": 3, "temperature": 0},
    ).json()  # fmt: skip
    assert "tool_calls" not in body["choices"][0]["message"]


def test_served_model_answers_like_the_in_process_backend(hf_backend, openai_backend):
    msgs = [ChatMessage(**m) for m in HELLO]
    opts = GenerationOptions(max_new_tokens=5, seed=0)
    local = hf_backend.generate(msgs, options=opts)
    remote = openai_backend.generate(msgs, options=opts)
    assert remote.text == local.text
    assert remote.logprobs == pytest.approx(local.logprobs, abs=1e-4)
    assert remote.entropies == pytest.approx(local.entropies, abs=1e-4)


def test_openai_backend_streaming_matches_non_streaming(engram_server, openai_backend):
    streaming = OpenAIBackend(engram_server, NAME, stream=True)
    msgs = [ChatMessage(**m) for m in HELLO]
    opts = GenerationOptions(max_new_tokens=4, seed=0)
    a, b = openai_backend.generate(msgs, options=opts), streaming.generate(msgs, options=opts)
    assert (a.text, a.usage, a.finish_reason) == (b.text, b.usage, b.finish_reason)
    assert a.logprobs == pytest.approx(b.logprobs)
    assert 0 < b.prefill_seconds < b.seconds
    streaming.close()


# ---------------------------------------------------------------------- models & adapters


def model_ids(url: str) -> dict[str, dict]:
    return {m["id"]: m for m in httpx.get(f"{url}/models", timeout=30).json()["data"]}


def test_models_lists_the_base_and_every_loaded_adapter(engram_server, lora_adapters):
    assert set(model_ids(engram_server)) == {NAME}
    path = str(lora_adapters["alpha"])
    r = post(engram_server, "load_lora_adapter", {"lora_name": "repo-x", "lora_path": path})
    assert r.status_code == 200 and "repo-x" in r.text
    try:
        listed = model_ids(engram_server)
        assert listed["repo-x"]["parent"] == NAME and listed["repo-x"]["root"] == path
        assert listed[NAME]["parent"] is None
    finally:
        assert (
            post(engram_server, "unload_lora_adapter", {"lora_name": "repo-x"}).status_code == 200
        )
    assert set(model_ids(engram_server)) == {NAME}


def test_loading_a_name_twice_needs_load_inplace(engram_server, lora_adapters):
    body = {"lora_name": "twice", "lora_path": str(lora_adapters["alpha"])}
    assert post(engram_server, "load_lora_adapter", body).status_code == 200
    try:
        again = post(engram_server, "load_lora_adapter", body)
        assert again.status_code == 400 and "load_inplace" in again.json()["error"]["message"]
        inplace = post(engram_server, "load_lora_adapter", {**body, "load_inplace": True})
        assert inplace.status_code == 200
    finally:
        post(engram_server, "unload_lora_adapter", {"lora_name": "twice"})


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("chat/completions", "{not json", 400, None),
        ("chat/completions", {"model": NAME}, 400, "messages"),
        ("chat/completions", {"model": NAME, "messages": []}, 400, "messages"),
        ("chat/completions", {"model": "nope", "messages": HELLO}, 404, "model"),
        ("chat/completions", {"model": NAME, "messages": HELLO, "n": 2}, 400, "n"),
        (
            "chat/completions",
            {"model": NAME, "messages": HELLO, "temperature": 5},
            400,
            "temperature",
        ),
        (
            "chat/completions",
            {"model": NAME, "messages": HELLO, "tools": [WEATHER_TOOL], "tool_choice": "required"},
            400,
            "tool_choice",
        ),
        (
            "chat/completions",
            {"model": NAME, "messages": [{"role": "robot", "content": "x"}]},
            400,
            None,
        ),
        (
            "chat/completions",
            {"model": NAME, "messages": HELLO, "max_tokens": 10**6},
            400,
            "messages",
        ),
        (
            "chat/completions",
            {"model": NAME, "messages": HELLO, "logit_bias": {"x": 1}},
            400,
            "logit_bias",
        ),
        (
            "chat/completions",
            {"model": NAME, "messages": HELLO, "logit_bias": {"999999999": 1}, "stream": True},
            400,
            "logit_bias",
        ),
        ("load_lora_adapter", {"lora_name": "x"}, 400, None),
        ("load_lora_adapter", {"lora_name": "x", "lora_path": "/no/such/dir"}, 404, "lora_path"),
        ("unload_lora_adapter", {"lora_name": "never-loaded"}, 404, "lora_name"),
    ],
)
def test_bad_requests_get_openai_shaped_errors(engram_server, path, body, status, param):
    r = post(engram_server, path, body)
    assert r.status_code == status
    error = r.json()["error"]
    assert error["message"] and error["type"]
    assert set(error) == {"message", "type", "param", "code"}
    if param is not None:
        assert error["param"] == param


def test_unknown_routes_are_json_errors_too(engram_server):
    r = httpx.get(f"{engram_server}/nothing-here", timeout=30)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
