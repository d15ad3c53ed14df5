"""The `openai` backend: any OpenAI-compatible chat completions server, over httpx.

Production path: vLLM with `--enable-lora`, which serves every LoRA adapter as a model
name. The adapter is therefore chosen per request by the `model` field; adapters are
loaded at runtime through vLLM's `POST /v1/load_lora_adapter` (needs
`VLLM_ALLOW_RUNTIME_LORA_UPDATING=True` on the server) and removed with
`/v1/unload_lora_adapter`. `engram serve` speaks the same protocol.

- The API key is read from the environment variable named in the config, sent only as
  the `Authorization` header, and never logged, printed or put in an error message.
- Transient failures (connection refused while a server starts, timeouts, 408, 429,
  5xx) are retried with exponential backoff (honouring `Retry-After`); other 4xx are
  not. Either way the final failure is a `BackendError` that says what to do.
- Adapter paths are paths *on the server's* file system.

Not available here: hidden states (the protocol has none). Token counts come from the
server's `/tokenize` (vLLM, `engram serve`); without one they are an estimate.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from agent.backends.base import BackendCapabilities, BackendError, Generation, GenerationOptions
from agent.backends.completions import StreamAccumulator, from_response, message_of
from agent.backends.messages import to_openai
from agent.backends.toolcalls import tool_schemas
from agent.types import ChatMessage, ToolSpec

if TYPE_CHECKING:
    from agent.config import ModelSection

RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class ServerError(BackendError):
    """The server answered with an HTTP error status (kept in `status`)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        *,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 600.0,
        connect_timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        logprobs: bool = True,
        stream: bool = False,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key_env = api_key_env
        self.retries = max(0, retries)
        self.backoff = backoff
        self.stream = stream
        self.capabilities = BackendCapabilities(native_tools=True, logprobs=logprobs, adapters=True)
        headers = {"Accept": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            transport=transport,
        )
        self._has_tokenize: bool | None = None
        self.adapters: dict[str, Path] = {}
        self.model_id = model or self._discover_model()

    @classmethod
    def from_config(cls, section: ModelSection, **kwargs: Any) -> OpenAIBackend:
        return cls(
            section.openai_base_url, section.name, api_key_env=section.openai_api_key_env, **kwargs
        )

    def __repr__(self) -> str:  # no headers: the key must never appear in logs
        return f"OpenAIBackend({self.base_url!r}, model={self.model_id!r})"

    # ------------------------------------------------------------------ transport
    def _url(self, path: str) -> str:
        if path.startswith("/"):  # server root (vLLM's /tokenize lives outside /v1)
            root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
            return root + path
        return f"{self.base_url}/{path}"

    def _wait(self, attempt: int, response: httpx.Response | None) -> None:
        delay = self.backoff * (2**attempt)
        if response is not None:
            with contextlib.suppress(ValueError):
                delay = max(delay, float(response.headers.get("retry-after", 0)))
        time.sleep(min(delay, 30.0))

    @contextlib.contextmanager
    def _request(
        self, method: str, path: str, payload: Any = None, stream: bool = False
    ) -> Iterator[httpx.Response]:
        """One call with retries; yields a successful (2xx) response."""
        url = self._url(path)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                request = self._client.build_request(method, url, json=payload)
                response = self._client.send(request, stream=stream)
            except httpx.ConnectError as exc:
                if last:
                    raise BackendError(
                        f"cannot connect to the OpenAI-compatible server at {self.base_url} "
                        f"({_reason(exc)}). Start it (`engram serve`, or `vllm serve …` in "
                        "production) or set model.openai_base_url to where it listens."
                    ) from exc
                self._wait(attempt, None)
                continue
            except httpx.TimeoutException as exc:
                if last:
                    raise BackendError(
                        f"the server at {self.base_url} did not answer in time "
                        f"({type(exc).__name__}) after {self.retries + 1} attempts. Check that it "
                        "is not overloaded, or raise the timeout."
                    ) from exc
                self._wait(attempt, None)
                continue
            except httpx.HTTPError as exc:
                raise BackendError(f"request to {url} failed: {_reason(exc)}") from exc
            if response.status_code < 400:
                try:
                    yield response
                finally:
                    response.close()
                return
            if stream:
                response.read()
            response.close()
            if response.status_code in RETRY_STATUS and not last:
                self._wait(attempt, response)
                continue
            raise self._http_error(response, path)

    def _http_error(self, response: httpx.Response, path: str) -> ServerError:
        status = response.status_code
        message = _error_message(response)
        if status in (401, 403):
            hint = (
                f"The server refused the credentials: put a valid key in ${self.api_key_env}."
                if os.environ.get(self.api_key_env)
                else f"The server wants an API key: set ${self.api_key_env}."
            )
            return ServerError(f"{status} from {self.base_url}: {message}. {hint}", status)
        if status == 404 and path.endswith("lora_adapter") and "adapter" not in message.lower():
            return ServerError(
                f"{self.base_url} has no runtime adapter loading ({status}: {message}). For vLLM, "
                "start it with --enable-lora and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True.",
                status,
            )
        kind = "server error" if status >= 500 else "request rejected"
        return ServerError(f"{kind} ({status}) from {self._url(path)}: {message}", status)

    def _json(self, method: str, path: str, payload: Any = None) -> Any:
        with self._request(method, path, payload) as response:
            try:
                return response.json()
            except ValueError:
                return response.text

    # ------------------------------------------------------------------ models
    def models(self) -> list[dict[str, Any]]:
        data = self._json("GET", "models")
        return list(data.get("data", [])) if isinstance(data, dict) else []

    def _discover_model(self) -> str:
        listed = self.models()
        if not listed:
            raise BackendError(f"{self.base_url}/models lists no model; name one in model.name")
        base = [m for m in listed if not m.get("parent")] or listed
        return str(base[0]["id"])

    # ------------------------------------------------------------------ generation
    def _payload(
        self, messages: list[ChatMessage], tools: list[ToolSpec] | None, adapter: str | None,
        options: GenerationOptions,
    ) -> dict[str, Any]:  # fmt: skip
        payload: dict[str, Any] = {
            "model": adapter or self.model_id,
            "messages": to_openai(messages),
            "max_tokens": options.max_new_tokens,
            "temperature": options.temperature,
            "top_p": options.top_p,
        }
        if options.seed is not None:
            payload["seed"] = options.seed
        if options.stop:
            payload["stop"] = list(options.stop)
        if options.logit_bias:
            payload["logit_bias"] = {str(k): v for k, v in options.logit_bias.items()}
        if tools:
            payload["tools"] = tool_schemas(tools)
        if self.capabilities.logprobs:
            payload["logprobs"] = True
            if options.top_logprobs:
                payload["top_logprobs"] = options.top_logprobs
        return payload

    def generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
    ) -> Generation:
        options = options or GenerationOptions()
        if options.prefix:
            raise ValueError("the openai backend has no prefill (GenerationOptions.prefix)")
        payload = self._payload(messages, tools, adapter, options)
        try:
            if self.stream:
                return self._generate_stream(payload, time.perf_counter())
            return self._generate_once(payload, time.perf_counter())
        except ServerError as exc:
            if adapter is not None and exc.status == 404:
                raise BackendError(
                    f"adapter {adapter!r} is not loaded on {self.base_url} ({exc}). Load it with "
                    "load_adapter, or start vLLM with --lora-modules."
                ) from exc
            raise

    def _generate_once(self, payload: dict[str, Any], started: float) -> Generation:
        gen = from_response(self._json("POST", "chat/completions", payload), self.base_url)
        gen.seconds = time.perf_counter() - started
        return gen

    def _generate_stream(self, payload: dict[str, Any], started: float) -> Generation:
        payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        stream = StreamAccumulator(self.base_url)
        with self._request("POST", "chat/completions", payload, stream=True) as response:
            for line in response.iter_lines():
                if not stream.add_line(line):
                    break
        gen = stream.result()
        gen.seconds = time.perf_counter() - started
        gen.prefill_seconds = (stream.first_output_at or time.perf_counter()) - started
        return gen

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        if self._has_tokenize is not False:
            payload = {
                "model": self.model_id,
                "messages": to_openai(messages),
                "add_generation_prompt": True,
            }
            try:
                data = self._json("POST", "/tokenize", payload)
                count = int(data["count"])
                self._has_tokenize = True
                return count
            except ServerError as exc:
                if exc.status not in (404, 405):
                    raise
                self._has_tokenize = False
            except (KeyError, TypeError, ValueError):
                self._has_tokenize = False
        # No tokenizer here: about 3.5 characters per token for code and English, plus
        # the few tokens a chat template adds per message.
        return sum(len(m.content) // 3 + 1 + 5 for m in messages) + 3

    # ------------------------------------------------------------------ adapters
    def load_adapter(self, name: str, path: Path) -> None:
        payload = {"lora_name": name, "lora_path": str(path), "load_inplace": True}
        try:
            self._json("POST", "load_lora_adapter", payload)
        except BackendError as exc:
            # vLLM before `load_inplace` refuses a name it has: replace it by hand.
            if not (isinstance(exc, ServerError) and exc.status == 400 and "already" in str(exc)):
                raise
            self._json("POST", "unload_lora_adapter", {"lora_name": name})
            self._json("POST", "load_lora_adapter", payload)
        self.adapters[name] = Path(path)

    def unload_adapter(self, name: str) -> None:
        self._json("POST", "unload_lora_adapter", {"lora_name": name})
        self.adapters.pop(name, None)

    def close(self) -> None:
        self._client.close()


def _error_message(response: httpx.Response) -> str:
    try:
        return message_of(response.json())
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return "connection refused" if "refused" in text.lower() else text
