"""OpenAIBackend's handling of what servers send back.

The server's answers here come from httpx.MockTransport: these are unit tests of the
client's logic (retries, error messages, response parsing) for answers a healthy local
server will not give on demand. The backend against a real server is covered by the
contract tests (a real `engram serve`) and tests/agent/serve.
"""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from agent.backends.base import BackendError, GenerationOptions
from agent.backends.openai import OpenAIBackend
from agent.types import ChatMessage

MSGS = [ChatMessage(role="user", content="hi")]


def _reply(content="ok", **choice) -> dict:
    return {
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop", **choice}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1},
    }  # fmt: skip


def _backend(handler, **kw) -> OpenAIBackend:
    return OpenAIBackend(
        "http://server.test/v1", "m", transport=httpx.MockTransport(handler), backoff=0.0, **kw
    )


def test_transient_errors_are_retried():
    seen = []

    def handler(request):
        seen.append(request)
        if len(seen) < 3:
            return httpx.Response(503, json={"error": {"message": "warming up"}})
        return httpx.Response(200, json=_reply())

    gen = _backend(handler).generate(MSGS)
    assert gen.text == "ok" and len(seen) == 3


def test_persistent_server_errors_end_in_a_backend_error():
    backend = _backend(
        lambda r: httpx.Response(500, json={"error": {"message": "boom"}}), retries=2
    )
    with pytest.raises(BackendError, match=r"server error \(500\).*boom"):
        backend.generate(MSGS)


def test_client_errors_are_not_retried_and_carry_the_server_message():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(400, json={"error": {"message": "max_tokens too large"}})

    with pytest.raises(BackendError, match="max_tokens too large"):
        _backend(handler).generate(MSGS)
    assert len(seen) == 1


def test_timeouts_are_retried_then_reported():
    def handler(request):
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(BackendError, match="did not answer in time"):
        _backend(handler, retries=1).generate(MSGS)


def test_connection_refused_says_how_to_start_a_server():
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", retries=1, backoff=0.0)
    with pytest.raises(BackendError, match=r"connection refused.*engram serve"):
        backend.generate(MSGS)


def test_api_key_comes_from_the_named_env_var_and_is_never_shown(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    seen = []

    def handler(request):
        seen.append(request.headers.get("authorization"))
        return httpx.Response(401, json={"error": {"message": "bad key"}})

    backend = _backend(handler, api_key_env="MY_KEY")
    with pytest.raises(BackendError) as info:
        backend.generate(MSGS)
    assert seen == ["Bearer sk-secret-123"]
    assert "MY_KEY" in str(info.value)
    assert "sk-secret-123" not in str(info.value) + repr(backend)


def test_request_carries_adapter_options_and_tools():
    bodies = []

    def handler(request):
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=_reply())

    opts = GenerationOptions(
        max_new_tokens=7, seed=3, stop=["\n"], logit_bias={5: -1.0}, top_logprobs=2
    )
    _backend(handler).generate(MSGS, adapter="repo-a", options=opts)
    body = bodies[0]
    assert body["model"] == "repo-a" and body["max_tokens"] == 7 and body["seed"] == 3
    assert body["stop"] == ["\n"] and body["logit_bias"] == {"5": -1.0}
    assert body["logprobs"] is True and body["top_logprobs"] == 2


def test_native_tool_calls_are_parsed_and_bad_ones_stay_visible():
    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "read", "arguments": '{"path": "a"}'},
        },
        {"id": "c2", "type": "function", "function": {"name": "ls", "arguments": "{not json"}},
    ]
    body = _reply(None)
    body["choices"][0]["message"]["tool_calls"] = calls
    body["choices"][0]["finish_reason"] = "tool_calls"
    gen = _backend(lambda r: httpx.Response(200, json=body)).generate(MSGS)
    assert [(c.id, c.name, c.arguments) for c in gen.tool_calls] == [("c1", "read", {"path": "a"})]
    assert "{not json" in gen.text
    assert gen.finish_reason == "tool_calls"


def test_logprobs_are_read_and_entropy_only_when_sent():
    items = [
        {"token": "o", "logprob": -0.1, "top_logprobs": []},
        {"token": "k", "logprob": -0.2, "top_logprobs": []},
    ]
    gen = _backend(
        lambda r: httpx.Response(200, json=_reply(logprobs={"content": items}))
    ).generate(MSGS)
    assert gen.tokens == ["o", "k"] and gen.logprobs == [-0.1, -0.2]
    assert gen.entropies is None


def test_streamed_tool_call_deltas_are_assembled():
    chunks = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "c1",
                                "function": {"name": "read", "arguments": '{"pa'},
                            }
                        ]
                    },
                }
            ]
        },
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'th": "a"}'}}]},
                }
            ]
        },
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9}},
    ]
    sse = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    backend = _backend(
        lambda r: httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"}),
        stream=True,
    )
    gen = backend.generate(MSGS)
    assert [(c.id, c.name, c.arguments) for c in gen.tool_calls] == [("c1", "read", {"path": "a"})]
    assert gen.usage.completion_tokens == 9


def test_model_is_discovered_when_not_named():
    listing = {"data": [{"id": "lora-x", "parent": "base"}, {"id": "base", "parent": None}]}
    backend = OpenAIBackend(
        "http://server.test/v1",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=listing)),
    )
    assert backend.model_id == "base"


def test_runtime_lora_loading_missing_on_the_server_is_explained():
    backend = _backend(lambda r: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(BackendError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING"):
        backend.load_adapter("a", "/srv/adapters/a")


def test_old_vllm_without_load_inplace_gets_unload_then_load():
    paths = []

    def handler(request):
        paths.append(request.url.path)
        if paths == ["/v1/load_lora_adapter"]:
            return httpx.Response(
                400, json={"error": {"message": "The lora adapter 'a' has already been loaded."}}
            )
        return httpx.Response(200, text="Success")

    _backend(handler).load_adapter("a", "/srv/a")
    assert paths == ["/v1/load_lora_adapter", "/v1/unload_lora_adapter", "/v1/load_lora_adapter"]
