"""`POST /v1/chat/completions`: request → generation → OpenAI response or SSE stream.

Streaming: text is sent as it is decoded. When tools are offered, text that may turn
out to be a tool call (from `<tool_call>` on, or a reply that opens like a bare JSON
call) is held back; parsed calls arrive as one `tool_calls` delta at the end. Logprobs
of a streamed reply come in the final chunk. A client that disconnects cancels its
generation at the next token.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from agent.backends.base import Generation, GenerationOptions
from agent.backends.messages import from_openai
from agent.backends.toolcalls import OPEN_TAG, parse_tool_calls, tool_names
from agent.serve import protocol as p
from agent.serve.state import ServeState


async def read_json(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise p.ApiError(400, f"the request body is not valid JSON: {exc}") from None


@dataclass
class _Prepared:
    req: p.ChatRequest
    adapter: str | None
    messages: list[Any]
    tools: list[dict[str, Any]] | None
    options: GenerationOptions


def _prepare(state: ServeState, body: Any) -> _Prepared:
    req = p.parse(p.ChatRequest, body)
    problem = req.unsupported()
    if problem is not None:
        raise problem
    adapter = state.adapter_for(req.model)
    messages = from_openai(req.messages)
    tools = req.tools if req.tools and req.tool_choice != "none" else None
    prompt_tokens = state.backend.count_tokens(messages, tools)
    room = state.context_tokens - prompt_tokens
    asked = req.max_completion_tokens or req.max_tokens
    if room < 1 or (asked is not None and asked > room):
        raise p.ApiError(
            400,
            f"This model's maximum context length is {state.context_tokens} tokens. However, you "
            f"requested {prompt_tokens + (asked or 1)} tokens ({prompt_tokens} in the messages, "
            f"{asked or 1} in the completion). Please reduce the length of the messages or completion.",
            param="messages",
            code="context_length_exceeded",
        )
    options = GenerationOptions(
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        max_new_tokens=asked or min(state.default_max_tokens, room),
        seed=req.seed,
        stop=req.stop_list(),
        logit_bias=req.bias(state.backend.vocab_size),
        top_logprobs=(req.top_logprobs or 0) if req.logprobs else 0,
    )
    return _Prepared(req, adapter, messages, tools, options)


def _shape(prep: _Prepared, gen: Generation) -> tuple[str | None, list[Any]]:
    """Content and tool calls as OpenAI returns them: calls parsed out of the text."""
    if not prep.tools:
        return gen.text, []
    parsed = parse_tool_calls(gen.text, tool_names(prep.tools))
    content = parsed.content(gen.text)
    if parsed.calls and not content.strip():
        return None, parsed.calls
    return content, parsed.calls


async def chat_completions(state: ServeState, request: Request) -> Response:
    prep = _prepare(state, await read_json(request))
    if prep.req.stream:
        return StreamingResponse(_stream(state, prep), media_type="text/event-stream")
    async with state.lock:
        gen = await anyio.to_thread.run_sync(
            partial(state.backend.generate, prep.messages, prep.tools, prep.adapter, prep.options)
        )
    content, calls = _shape(prep, gen)
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = p.tool_call_objects(calls)
    logprobs = None
    if prep.req.logprobs:
        logprobs = {"content": p.logprobs_content(gen, prep.options.top_logprobs)}
    choice = {
        "index": 0,
        "message": message,
        "logprobs": logprobs,
        "finish_reason": "tool_calls" if calls else gen.finish_reason,
    }
    return JSONResponse(
        {
            "id": p.completion_id(),
            "object": "chat.completion",
            "created": p.now(),
            "model": prep.req.model,
            "choices": [choice],
            "usage": p.usage_object(gen),
        }
    )


class _Holdback:
    """Decides which streamed text is safe to send as `content` while tools are offered."""

    def __init__(self, tools_offered: bool):
        self.tools = tools_offered
        self.text = ""
        self.sent = 0

    def feed(self, piece: str) -> str:
        self.text += piece
        if not self.tools:
            end = len(self.text)
        else:
            head = self.text.lstrip()
            if not head or head[0] in "{[`":
                return ""  # may be a bare JSON call: decide at the end
            found = self.text.find(OPEN_TAG)
            end = found if found >= 0 else len(self.text) - _partial_suffix(self.text, OPEN_TAG)
        out = self.text[self.sent : max(self.sent, end)]
        self.sent = max(self.sent, end)
        return out

    def rest(self, content: str | None) -> str:
        content = content or ""
        sent = self.text[: self.sent]
        return content[len(sent) :] if content.startswith(sent) else ""


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def _stream(state: ServeState, prep: _Prepared) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    cancel = threading.Event()
    cid, created, model = p.completion_id(), p.now(), prep.req.model

    def put(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the loop is gone: the server is shutting down
            cancel.set()

    def work() -> None:
        try:
            gen = state.backend.generate(
                prep.messages, prep.tools, prep.adapter, prep.options,
                on_text=lambda piece: put("text", piece), cancel=cancel,
            )  # fmt: skip
            put("done", gen)
        except Exception as exc:
            put("error", exc)

    async with state.lock:
        worker = threading.Thread(target=work, name="engram-generate", daemon=True)
        worker.start()
        try:
            yield _sse(p.chunk(cid, model, created, {"role": "assistant", "content": ""}))
            hold = _Holdback(bool(prep.tools))
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    piece = hold.feed(value)
                    if piece:
                        yield _sse(p.chunk(cid, model, created, {"content": piece}))
                    continue
                if kind == "error":
                    status = 400 if isinstance(value, ValueError) else 500
                    err = p.ApiError(
                        status,
                        str(value),
                        type="server_error" if status == 500 else "invalid_request_error",
                    )
                    yield _sse(err.body())
                    break
                gen: Generation = value
                content, calls = _shape(prep, gen)
                rest = hold.rest(content)
                if rest:
                    yield _sse(p.chunk(cid, model, created, {"content": rest}))
                if calls:
                    deltas = [
                        {"index": i, **obj} for i, obj in enumerate(p.tool_call_objects(calls))
                    ]
                    yield _sse(p.chunk(cid, model, created, {"tool_calls": deltas}))
                logprobs = None
                if prep.req.logprobs:
                    logprobs = {"content": p.logprobs_content(gen, prep.options.top_logprobs)}
                finish = "tool_calls" if calls else gen.finish_reason
                yield _sse(
                    p.chunk(cid, model, created, {}, finish_reason=finish, logprobs=logprobs)
                )
                if (prep.req.stream_options or {}).get("include_usage"):
                    usage = {"id": cid, "object": "chat.completion.chunk", "created": created,
                             "model": model, "choices": [], "usage": p.usage_object(gen)}  # fmt: skip
                    yield _sse(usage)
                break
            yield "data: [DONE]\n\n"
        finally:
            cancel.set()
            # The lock means "the model is idle": hold it until the worker has stopped,
            # even when the client went away and this generator is being cancelled.
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(worker.join)
