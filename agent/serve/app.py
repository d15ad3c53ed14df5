"""`engram serve`: the `hf` backend behind an OpenAI-compatible HTTP API (starlette).

Routes: `GET /v1/models` (the base model and every loaded adapter, each a model name),
`POST /v1/chat/completions` (plain and SSE streaming), vLLM's `POST /v1/load_lora_adapter`
and `/v1/unload_lora_adapter`, vLLM's `POST /tokenize`, and `GET /health`.

Requests run one at a time on the model: an asyncio lock admits one generation (or
adapter change) at a time and the others wait their turn in arrival order. The model
has a single set of weights and one active adapter; batching requests would need a
different engine (vLLM in production).

Streaming: text is sent as it is decoded. When tools are offered, text that may turn
out to be a tool call (from `<tool_call>` on, or a reply that opens like a bare JSON
call) is held back; parsed calls arrive as one `tool_calls` delta at the end. Logprobs
of a streamed reply come in the final chunk. A client that disconnects cancels its
generation at the next token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from agent.backends.base import BackendError, Generation, GenerationOptions
from agent.backends.messages import from_openai
from agent.backends.toolcalls import OPEN_TAG, parse_tool_calls, tool_names
from agent.serve import protocol as p

if TYPE_CHECKING:
    from agent.backends.hf import HFBackend

log = logging.getLogger("engram.serve")


@dataclass
class ServeState:
    backend: HFBackend
    served_name: str
    default_max_tokens: int = 384
    context_tokens: int = 8192
    api_key: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    created: int = field(default_factory=p.now)

    def adapter_for(self, model: str) -> str | None:
        """The adapter a request's `model` names (None: the base model)."""
        if model in (self.served_name, self.backend.model_id):
            return None
        if model in self.backend.adapters:
            return model
        known = [self.served_name, *sorted(self.backend.adapters)]
        raise p.ApiError(
            404,
            f"The model `{model}` does not exist. Served: {', '.join(known)}.",
            param="model",
            code="model_not_found",
        )


# ---------------------------------------------------------------------- plumbing


def _error_response(err: p.ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise p.ApiError(400, f"the request body is not valid JSON: {exc}") from None


def _check_auth(state: ServeState, request: Request) -> None:
    if state.api_key is None:
        return
    if request.headers.get("authorization", "") != f"Bearer {state.api_key}":
        raise p.ApiError(
            401, "missing or wrong API key", type="authentication_error", code="invalid_api_key"
        )


def _endpoint(handler: Any) -> Any:
    """Turn exceptions into OpenAI-shaped errors (and never leak a traceback to clients)."""

    async def wrapped(request: Request) -> Response:
        state: ServeState = request.app.state.engram
        try:
            _check_auth(state, request)
            return await handler(state, request)
        except p.ApiError as err:
            return _error_response(err)
        except ValueError as exc:
            return _error_response(p.ApiError(400, str(exc)))
        except BackendError as exc:
            return _error_response(p.ApiError(500, str(exc), type="server_error"))
        except Exception:
            log.exception("request failed")
            return _error_response(
                p.ApiError(500, "internal error; see the server log", type="server_error")
            )

    return wrapped


# ---------------------------------------------------------------------- models & adapters


async def models(state: ServeState, request: Request) -> Response:
    data = [
        {
            "id": state.served_name,
            "object": "model",
            "created": state.created,
            "owned_by": "engram",
            "root": state.backend.model_ref,
            "parent": None,
            "max_model_len": state.context_tokens,
        }
    ]
    for name, path in sorted(state.backend.adapters.items()):
        data.append(
            {"id": name, "object": "model", "created": state.created, "owned_by": "engram",
             "root": str(path), "parent": state.served_name}
        )  # fmt: skip
    return JSONResponse({"object": "list", "data": data})


async def load_adapter(state: ServeState, request: Request) -> Response:
    req = p.parse(p.LoadAdapterRequest, await _body(request))
    if not req.lora_name or not req.lora_path:
        raise p.ApiError(400, "Both 'lora_name' and 'lora_path' must be provided.")
    if req.lora_name in (state.served_name, state.backend.model_id):
        raise p.ApiError(400, f"'{req.lora_name}' is the base model's name", param="lora_name")
    async with state.lock:
        if req.lora_name in state.backend.adapters and not req.load_inplace:
            raise p.ApiError(
                400,
                f"The lora adapter '{req.lora_name}' has already been loaded. If you want to "
                "load the adapter in place, set 'load_inplace' to True.",
                param="lora_name",
            )
        path = Path(req.lora_path)
        if not path.is_dir():
            raise p.ApiError(
                404, f"No adapter found at {path}.", param="lora_path", code="adapter_not_found"
            )
        try:
            await anyio.to_thread.run_sync(state.backend.load_adapter, req.lora_name, path)
        except BackendError as exc:
            raise p.ApiError(400, str(exc), param="lora_path") from None
    log.info("loaded adapter %s from %s", req.lora_name, path)
    return PlainTextResponse(f"Success: LoRA adapter '{req.lora_name}' added successfully.")


async def unload_adapter(state: ServeState, request: Request) -> Response:
    req = p.parse(p.UnloadAdapterRequest, await _body(request))
    if not req.lora_name:
        raise p.ApiError(400, "'lora_name' needs to be provided to unload a LoRA adapter.")
    async with state.lock:
        if req.lora_name not in state.backend.adapters:
            raise p.ApiError(
                404, f"The lora adapter '{req.lora_name}' cannot be found.", param="lora_name",
                code="adapter_not_found",
            )  # fmt: skip
        await anyio.to_thread.run_sync(state.backend.unload_adapter, req.lora_name)
    log.info("unloaded adapter %s", req.lora_name)
    return PlainTextResponse(f"Success: LoRA adapter '{req.lora_name}' removed successfully.")


async def tokenize(state: ServeState, request: Request) -> Response:
    req = p.parse(p.TokenizeRequest, await _body(request))
    if req.model is not None:
        state.adapter_for(req.model)
    if req.messages is not None:
        ids = state.backend.encode(from_openai(req.messages), req.tools)
    elif req.prompt is not None:
        ids = state.backend.tokenizer(req.prompt, add_special_tokens=False)["input_ids"]
    else:
        raise p.ApiError(400, "give either 'messages' or 'prompt'")
    return JSONResponse({"count": len(ids), "max_model_len": state.context_tokens, "tokens": ids})


async def health(state: ServeState, request: Request) -> Response:
    return PlainTextResponse("ok")


# ---------------------------------------------------------------------- chat


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
        logit_bias=req.bias(),
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
    prep = _prepare(state, await _body(request))
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


# ---------------------------------------------------------------------- app


async def _not_found(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    message = "Not Found" if status == 404 else getattr(exc, "detail", "error")
    code = "not_found" if status == 404 else "method_not_allowed" if status == 405 else None
    return _error_response(
        p.ApiError(status, f"{message}: {request.method} {request.url.path}", code=code)
    )


def create_app(state: ServeState) -> Starlette:
    routes = [
        Route("/health", _endpoint(health), methods=["GET"]),
        Route("/v1/models", _endpoint(models), methods=["GET"]),
        Route("/v1/chat/completions", _endpoint(chat_completions), methods=["POST"]),
        Route("/v1/load_lora_adapter", _endpoint(load_adapter), methods=["POST"]),
        Route("/v1/unload_lora_adapter", _endpoint(unload_adapter), methods=["POST"]),
        Route("/tokenize", _endpoint(tokenize), methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _not_found})
    app.state.engram = state
    return app
