"""`engram serve`: the `hf` backend behind an OpenAI-compatible HTTP API (starlette).

Routes: `GET /v1/models` (the base model and every loaded adapter, each a model name),
`POST /v1/chat/completions` (plain and SSE streaming), vLLM's `POST /v1/load_lora_adapter`
and `/v1/unload_lora_adapter`, vLLM's `POST /tokenize`, and `GET /health`.

Requests run one at a time on the model: an asyncio lock admits one generation (or
adapter change) at a time and the others wait their turn in arrival order. The model
has a single set of weights and one active adapter; batching requests would need a
different engine (vLLM in production).

Streaming and the chat route itself live in chat.py.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from agent.backends.base import BackendError
from agent.backends.messages import from_openai
from agent.serve import protocol as p
from agent.serve.chat import chat_completions, read_json
from agent.serve.state import ServeState

log = logging.getLogger("engram.serve")


# ---------------------------------------------------------------------- plumbing


def _error_response(err: p.ApiError) -> JSONResponse:
    return JSONResponse(err.body(), status_code=err.status)


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
    req = p.parse(p.LoadAdapterRequest, await read_json(request))
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
    req = p.parse(p.UnloadAdapterRequest, await read_json(request))
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
    req = p.parse(p.TokenizeRequest, await read_json(request))
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
