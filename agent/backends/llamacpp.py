"""The `llamacpp` backend: llama.cpp in this process, for fast generation on a CPU.

It runs the model's GGUF (Q4_K_M for the embedded model: about four times less CPU per
token than transformers in bf16, docs/llamacpp.md) and keeps what the agent relies on:

- **The same prompt as `hf`.** The GGUF's chat template is rendered the way transformers
  renders it (`chat_template.py`) and tokenized by llama.cpp; the token ids equal the `hf`
  backend's (tested over chats with tools, tool calls and tool results).
- **Per-token records.** llama.cpp hands over the raw logits of every step; `logprobs`,
  `entropies` and `top_logprobs` come from them before logit bias, temperature or top-p
  (`sampling.py`), and the choice (greedy, or seeded temperature/top-p sampling) is made
  here, so `seed` makes a sampled reply repeatable.
- **Hidden states** of `capture_layer`, read during evaluation through llama.cpp's eval
  callback (the tensor `l_out-<L>`, the output of decoder layer L, which is what the
  protocol's `hidden` means); rows are aligned as in `hf` (row i is the state at the
  position that predicted token i). They match `hf`'s features to a cosine of ~0.9998
  (different quantisation of the same weights).
- **Per-repository LoRA adapters**, two ways (`adapter_mode`):
  `runtime` — `load_adapter(name, peft_dir)` converts the PEFT adapter once with
  llama.cpp's own converter (`lora_gguf.py`, cached as `adapter.gguf` next to it) and
  loads it on the model; `generate(adapter=name)` applies it to the context for the
  call. Switching adapters never reloads the base model; each token pays the LoRA's
  extra matmuls. `merged` — `load_adapter` builds (once, `merged_gguf.py`) and loads a
  GGUF with the adapter merged into the weights, with its own context;
  `generate(adapter=name)` runs that model at the base model's speed. Loading it is a
  model load (a second GGUF in memory); the base model stays loaded.
- **A prompt-prefix KV cache.** The agent re-sends a growing conversation; the context
  keeps the KV entries of the last prompt and reply, and the next call evaluates only
  what follows the longest common prefix. The cache belongs to one adapter: a call with
  another adapter starts from scratch. The same prompt again (a resampled step) reuses
  the stored first-step logits and evaluates nothing.
- **Constrained decoding**: `options.grammar` (GBNF) or `options.json_schema` restrict
  every token through llama.cpp's grammar engine.
- **Prefill**: `options.prefix` is appended to the prompt (tokenized jointly with it, as
  `hf` does) and the reply continues it; the text, the per-token records and the hidden
  states cover the continuation only. The small-model policy forces the start of its
  edits this way.

Not guaranteed: bit-identical logits whatever the cache held before. Evaluating a
suffix on top of cached entries can change float rounding against one full prefill, so
a greedy reply may differ at a near-tie depending on the previous call (`prefix_cache=
False` trades the speed for history-independent results). Training and teacher forcing
stay with the `hf` backend.

Thread safety: one lock serialises generation and adapter changes (one context, one KV
cache, one active adapter).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.backends.base import BackendCapabilities, BackendError, Generation, GenerationOptions
from agent.backends.gguf_files import resolve_gguf
from agent.backends.messages import to_openai
from agent.backends.toolcalls import ToolList, parse_tool_calls, tool_names, tool_schemas
from agent.types import ChatMessage, TokenUsage

if TYPE_CHECKING:
    from agent.backends.llamacpp_lib import LlamaContext, LlamaModel, LoraAdapter
    from agent.backends.merged_gguf import BuildTimes
    from agent.backends.textstream import TextCallback
    from agent.config import ModelSection
    from agent.home import Home


ADAPTER_MODES = ("runtime", "merged")


@dataclass
class _Merged:
    """An adapter in `merged` mode: its own model (base + adapter) and context."""

    source: Path  # the PEFT folder
    gguf: Path
    model: LlamaModel
    ctx: LlamaContext
    build: BuildTimes
    load_seconds: float


@dataclass
class PrefixCacheStats:
    """Prompt tokens asked for vs evaluated, over the backend's life (and the last call)."""

    requests: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    last_prompt_tokens: int = 0
    last_reused_tokens: int = 0

    @property
    def evaluated_tokens(self) -> int:
        return self.prompt_tokens - self.reused_tokens


@dataclass
class _Prefilled:
    """The first step of the last prompt: reused when the same prompt comes again."""

    prompt: list[int]
    adapter: str | None
    logits: Any
    layer: int | None
    hidden: Any


@dataclass
class _Trace:
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    entropies: list[float] = field(default_factory=list)
    top: list[list[tuple[int, float]]] = field(default_factory=list)
    hidden: list[Any] = field(default_factory=list)


class LlamaCppBackend:
    name = "llamacpp"
    capabilities = BackendCapabilities(
        native_tools=True, logprobs=True, hidden_states=True, training=False, constrained=True,
        adapters=True, prefill=True,
    )  # fmt: skip

    def __init__(
        self,
        model: str,
        *,
        threads: int = 0,
        context_tokens: int = 8192,
        models_dir: Path | None = None,
        home_root: Path | None = None,
        prefix_cache: bool = True,
        adapter_mode: str = "runtime",
        merged_type: str = "base",
    ):
        from agent.backends.llamacpp_lib import LayerTap, LlamaContext, LlamaModel, lib

        if adapter_mode not in ADAPTER_MODES:
            raise ValueError(f"adapter_mode must be one of {ADAPTER_MODES}, not {adapter_mode!r}")
        if merged_type != "base":
            from agent.backends.merged_gguf import file_type_named

            file_type_named(merged_type)  # a ValueError now rather than at the first adapter
        lib()  # a clear BackendError first where llama-cpp-python is missing
        if models_dir is None:
            from agent.home import Home

            models_dir = Home.resolve().models
        started = time.perf_counter()
        self.source = resolve_gguf(model, models_dir)
        self.model_ref = model
        self.model_id = self.source.model_id
        self.model_sha256 = self.source.sha256
        self.home_root = home_root
        self.prefix_cache = prefix_cache
        self.adapter_mode = adapter_mode
        self.merged_type = merged_type
        self.context_tokens_asked = context_tokens
        self.threads = threads if threads > 0 else (os.cpu_count() or 1)
        self._model: LlamaModel | None = LlamaModel(self.source.gguf)
        template = self._model.chat_template
        if not template:
            raise BackendError(f"{self.source.gguf.name} carries no chat template")
        self._template = template
        self._specials = self._model.special_tokens()
        self._tap = LayerTap()
        self._base_ctx: LlamaContext | None = LlamaContext(
            self._model, n_ctx=context_tokens, n_threads=self.threads, tap=self._tap
        )
        # The context whose KV cache `_kv` describes: the base model's, or a merged
        # adapter's model's.
        self._ctx: LlamaContext | None = self._base_ctx
        self._lock = threading.RLock()
        self._adapters: dict[str, tuple[Path, LoraAdapter]] = {}
        self._merged: dict[str, _Merged] = {}
        self._kv: list[int] = []  # tokens whose KV entries the context holds, from position 0
        self._kv_adapter: str | None = None
        self._last: _Prefilled | None = None
        self.cache_stats = PrefixCacheStats()
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_config(cls, section: ModelSection, home: Home | None = None) -> LlamaCppBackend:
        from agent.home import Home

        home = home or Home.resolve()
        return cls(section.name, threads=section.threads, context_tokens=section.context_tokens,
                   models_dir=home.models, home_root=home.root,
                   adapter_mode=section.adapter_mode,
                   merged_type=section.merged_type)  # fmt: skip

    # ------------------------------------------------------------------ facts
    @property
    def num_layers(self) -> int:
        return self._require_model().n_layer

    @property
    def hidden_size(self) -> int:
        return self._require_model().n_embd

    @property
    def vocab_size(self) -> int:
        return self._require_model().n_vocab

    @property
    def context_tokens(self) -> int:
        return self._require_base_ctx().n_ctx

    @property
    def adapters(self) -> dict[str, Path]:
        loaded = {name: path for name, (path, _) in self._adapters.items()}
        loaded.update({name: merged.source for name, merged in self._merged.items()})
        return loaded

    def merged_info(self, name: str) -> tuple[Path, BuildTimes, float]:
        """A merged adapter's GGUF, its build times (zeros: it was cached) and the
        seconds its model took to load."""
        merged = self._merged[name]
        return merged.gguf, merged.build, merged.load_seconds

    # ------------------------------------------------------------------ prompt
    def render(self, messages: list[ChatMessage], tools: ToolList | None = None) -> str:
        """The exact prompt text the model sees (chat template + generation prompt)."""
        from agent.backends.chat_template import render_chat

        if not messages:
            raise ValueError("messages must not be empty")
        return render_chat(self._template, to_openai(messages, arguments="object"),
                           tools=tool_schemas(tools), **self._specials)  # fmt: skip

    def encode(self, messages: list[ChatMessage], tools: ToolList | None = None) -> list[int]:
        return self._require_model().tokenize(self.render(messages, tools))

    def count_tokens(self, messages: list[ChatMessage], tools: ToolList | None = None) -> int:
        return len(self.encode(messages, tools))

    def _forced(self, messages: list[ChatMessage], tools: ToolList | None, prompt: list[int],
                prefix: str) -> list[int]:  # fmt: skip
        """The token ids of a forced reply start: tokenized together with the prompt, as
        training tokenizes a conversation, and split where the prompt ends; on its own
        where joint tokenization crosses that boundary (chat templates here end the
        prompt with a newline, so it does not)."""
        model = self._require_model()
        joint = model.tokenize(self.render(messages, tools) + prefix)
        if joint[: len(prompt)] == prompt:
            return joint[len(prompt) :]
        return model.tokenize(prefix)

    # ------------------------------------------------------------------ adapters
    def load_adapter(self, name: str, path: Path) -> None:
        """Load a PEFT LoRA adapter (converted to GGUF once, or merged into a model of its
        own once in `merged` mode); an existing `name` is replaced."""
        from agent.backends.llamacpp_lib import LoraAdapter
        from agent.backends.lora_gguf import gguf_adapter

        with self._lock:
            model = self._require_model()
            if self.source.hf_dir is None:
                raise BackendError(
                    f"adapters need the model's converted folder next to {self.source.gguf} "
                    "(../hf/, written by `engram models fetch`): llama.cpp's converter reads "
                    "the base model's config from it"
                )
            if self.adapter_mode == "merged":
                self._load_merged(name, Path(path))
                return
            converted = gguf_adapter(Path(path), self.source.hf_dir, self.home_root,
                                     report=lambda _text: None)  # fmt: skip
            handle = LoraAdapter(model, converted)
            if name in self._adapters:
                self._drop_adapter(name)
            self._adapters[name] = (Path(path), handle)

    def _load_merged(self, name: str, path: Path) -> None:
        from agent.backends.llamacpp_lib import LlamaContext, LlamaModel
        from agent.backends.merged_gguf import file_type_named, merged_gguf

        base = self._require_model()
        if self.merged_type != "base":
            file_type: int | None = file_type_named(self.merged_type)
        else:
            file_type = base.file_type
        if file_type is None:
            raise BackendError(f"{self.source.gguf.name} does not say its file type "
                               "(general.file_type); use model.adapter_mode = runtime")  # fmt: skip
        assert self.source.hf_dir is not None
        gguf, build = merged_gguf(path, self.source.hf_dir, self._base_sha256(), file_type,
                                  threads=self.threads, home_root=self.home_root,
                                  report=lambda _text: None)  # fmt: skip
        started = time.perf_counter()
        model = LlamaModel(gguf)
        try:
            if (model.n_vocab, model.n_layer, model.n_embd) != (base.n_vocab, base.n_layer,
                                                                  base.n_embd):  # fmt: skip
                raise BackendError(f"{gguf} is not a merge of {self.source.gguf.name}: "
                                   "its shape differs; delete it to rebuild")  # fmt: skip
            ctx = LlamaContext(model, n_ctx=self.context_tokens_asked, n_threads=self.threads,
                               tap=self._tap)  # fmt: skip
        except BaseException:
            model.close()
            raise
        seconds = time.perf_counter() - started
        if name in self._adapters or name in self._merged:
            self._drop_adapter(name)
        self._merged[name] = _Merged(path, gguf, model, ctx, build, seconds)

    def _base_sha256(self) -> str:
        """The base GGUF's sha256 (from the model's manifest, else computed once)."""
        if self.model_sha256:
            return self.model_sha256
        import hashlib

        digest = hashlib.sha256()
        with self.source.gguf.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        self.model_sha256 = digest.hexdigest()
        return self.model_sha256

    def set_adapter_scale(self, name: str, scale: float) -> None:
        """Apply adapter `name` at `scale` from now on (1 is the adapter as trained;
        other values are for experiments such as checking the conversion)."""
        with self._lock:
            if name in self._merged:
                raise BackendError(f"adapter {name!r} is merged into its model: its scale is "
                                   "fixed (use adapter_mode = runtime to vary it)")  # fmt: skip
            if name not in self._adapters:
                raise BackendError(f"adapter {name!r} is not loaded")
            self._adapters[name][1].scale = float(scale)
            if self._kv_adapter == name:
                self._forget_cache()

    def unload_adapter(self, name: str) -> None:
        with self._lock:
            self._require_model()
            if name not in self._adapters and name not in self._merged:
                raise BackendError(
                    f"adapter {name!r} is not loaded (loaded: {sorted(self.adapters) or 'none'})"
                )
            self._drop_adapter(name)

    def _drop_adapter(self, name: str) -> None:
        if name in self._merged:
            merged = self._merged.pop(name)
            if self._ctx is merged.ctx:
                self._forget_cache()
                self._ctx = self._base_ctx
            merged.ctx.close()
            merged.model.close()
            return
        _, handle = self._adapters.pop(name)
        ctx = self._require_base_ctx()
        if ctx.adapter is handle:
            ctx.set_adapter(None)
            self._forget_cache()
        if self._kv_adapter == name:
            self._forget_cache()
        handle.close()

    def _forget_cache(self) -> None:
        self._require_ctx().keep(0)
        self._kv = []
        self._kv_adapter = None
        self._last = None

    # ------------------------------------------------------------------ generation
    def generate(
        self,
        messages: list[ChatMessage],
        tools: ToolList | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
        *,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """One chat turn. `on_text` receives the reply's text in order as it is decoded
        (never text past a stop string); setting `cancel` ends generation early."""
        from agent.backends.sampling import Chooser
        from agent.backends.textstream import TextStream

        model = self._require_model()
        options = options or GenerationOptions()
        if options.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        layer = self._layer_index(options.capture_layer)
        chooser = Chooser(model.n_vocab, options.temperature, options.top_p, options.seed,
                          options.logit_bias)  # fmt: skip
        prompt = self.encode(messages, tools)
        if options.prefix:
            prompt = prompt + self._forced(messages, tools, prompt, options.prefix)
        stream = TextStream(options.stop, on_text, cancel)
        with self._lock:
            ctx = self._require_ctx()
            if len(prompt) >= ctx.n_ctx:
                raise BackendError(
                    f"the prompt has {len(prompt)} tokens; the context holds {ctx.n_ctx} "
                    "(model.context_tokens)"
                )
            if adapter is not None and adapter not in self.adapters:
                raise BackendError(
                    f"adapter {adapter!r} is not loaded (loaded: {sorted(self.adapters) or 'none'})"
                )
            grammar = self._grammar(options)
            try:
                started = time.perf_counter()
                trace, prefill_s = self._decode(prompt, adapter, layer, options, chooser, stream,
                                                grammar)  # fmt: skip
                seconds = time.perf_counter() - started
            except BaseException:
                # What the KV cache holds is unknown after a failed evaluation.
                self._forget_cache()
                raise
            finally:
                if grammar is not None:
                    grammar.close()
        stream.flush()
        return self._result(trace, stream, tools, layer, len(prompt), seconds, prefill_s, options)

    def next_logits(self, messages: list[ChatMessage], tools: ToolList | None = None,
                    adapter: str | None = None) -> Any:  # fmt: skip
        """The raw logits (float32 [vocab]) of the token after the prompt: for comparing
        this backend's distribution with another's (docs/llamacpp.md)."""
        prompt = self.encode(messages, tools)
        with self._lock:
            if adapter is not None and adapter not in self.adapters:
                raise BackendError(f"adapter {adapter!r} is not loaded")
            try:
                logits, _ = self._prefill(prompt, adapter, None)
            except BaseException:
                self._forget_cache()
                raise
        return logits.copy()

    def _grammar(self, options: GenerationOptions) -> Any:
        from agent.backends.llamacpp_lib import Grammar

        text = options.grammar
        if text is None and options.json_schema is not None:
            import json

            from llama_cpp.llama_grammar import json_schema_to_gbnf

            text = json_schema_to_gbnf(json.dumps(options.json_schema))
        return Grammar(self._require_model(), text) if text else None

    def _decode(self, prompt: list[int], adapter: str | None, layer: int | None,
                options: GenerationOptions, chooser: Any, stream: Any, grammar: Any,
                ) -> tuple[_Trace, float]:  # fmt: skip
        from agent.backends.sampling import token_stats

        model = self._require_model()
        self._tap.target = f"l_out-{layer}".encode() if layer is not None else None
        self._tap.error = None
        started = time.perf_counter()
        logits, hidden = self._prefill(prompt, adapter, layer)
        prefill_s = time.perf_counter() - started
        ctx = self._require_ctx()  # after the prefill: it chose the context (merged adapters)
        trace = _Trace()
        allowed = grammar.allowed if grammar is not None else None
        mask = grammar.mask if grammar is not None else None
        position = len(prompt)
        while True:
            stats = token_stats(logits)
            token = chooser.choose(logits, allowed, mask)
            if grammar is not None:
                grammar.accept(token)
            trace.token_ids.append(token)
            trace.logprobs.append(stats.logprob(token))
            trace.entropies.append(stats.entropy)
            if options.top_logprobs:
                trace.top.append(stats.top(options.top_logprobs))
            if layer is not None:
                trace.hidden.append(hidden)
            stop = stream.add(model.piece(token))
            if (stop or model.is_eog(token) or len(trace.token_ids) >= options.max_new_tokens
                    or position + 1 >= ctx.n_ctx):  # fmt: skip
                break
            ctx.decode([token], position)
            self._kv.append(token)
            position += 1
            logits = ctx.logits()
            hidden = self._tap.row
        if self._tap.error:
            raise BackendError(f"reading layer {layer} from llama.cpp failed: {self._tap.error}")
        return trace, prefill_s

    def _prefill(self, prompt: list[int], adapter: str | None, layer: int | None
                 ) -> tuple[Any, Any]:  # fmt: skip
        """Bring the KV cache to `prompt`; the logits (and layer row) of its last position."""
        stats = self.cache_stats
        stats.requests += 1
        stats.prompt_tokens += len(prompt)
        stats.last_prompt_tokens = len(prompt)
        merged = self._merged.get(adapter) if adapter is not None else None
        wanted = merged.ctx if merged is not None else self._require_base_ctx()
        if adapter != self._kv_adapter or wanted is not self._ctx or not self.prefix_cache:
            self._forget_cache()
            self._ctx = wanted
            self._forget_cache()  # the newly chosen context may hold an older call's entries
            self._kv_adapter = adapter
        ctx = self._require_ctx()
        # Always: a no-op when already applied, and after a failed call the context may
        # still hold another adapter than the (cleared) cache says.
        runtime = self._adapters.get(adapter) if adapter is not None else None
        ctx.set_adapter(runtime[1] if runtime is not None else None)
        last = self._last
        if (last is not None and last.prompt == prompt and last.adapter == adapter
                and last.layer == layer and len(self._kv) >= len(prompt)):  # fmt: skip
            # The same prompt again (a resampled step): its first step is known.
            ctx.keep(len(prompt))
            self._kv = self._kv[: len(prompt)]
            self._credit(len(prompt))
            return last.logits, last.hidden
        shared = _common_prefix(self._kv, prompt)
        shared = min(shared, len(prompt) - 1)  # the last prompt token yields the logits
        self._last = None
        ctx.keep(shared)
        self._kv = self._kv[:shared]
        self._tap.row = None
        ctx.decode(prompt[shared:], shared)
        self._kv = list(prompt)
        self._credit(shared)
        logits = ctx.logits()
        hidden = self._tap.row if layer is not None else None
        if self.prefix_cache:
            self._last = _Prefilled(list(prompt), adapter, logits, layer, hidden)
        return logits, hidden

    def _credit(self, reused: int) -> None:
        self.cache_stats.reused_tokens += reused
        self.cache_stats.last_reused_tokens = reused

    def _result(self, trace: _Trace, stream: Any, tools: ToolList | None, layer: int | None,
                prompt_len: int, seconds: float, prefill_s: float, options: GenerationOptions,
                ) -> Generation:  # fmt: skip
        import numpy as np

        model = self._require_model()
        kept = stream.kept_tokens()
        text = stream.final_text
        calls = parse_tool_calls(text, tool_names(tools)).calls if tools else []
        if calls:
            finish = "tool_calls"
        elif stream.stopped_by is not None or (
            trace.token_ids and model.is_eog(trace.token_ids[-1])
        ):
            finish = "stop"
        else:
            finish = "length"
        hidden = None
        if layer is not None:
            rows = trace.hidden[:kept]
            hidden = (np.stack(rows).astype(np.float32) if rows
                      else np.zeros((0, model.n_embd), dtype=np.float32))  # fmt: skip
        ids = trace.token_ids[:kept]
        top = None
        if options.top_logprobs:
            top = [[(self._piece(i), lp) for i, lp in step] for step in trace.top[:kept]]
        return Generation(
            text=text,
            tool_calls=calls,
            usage=TokenUsage(prompt_tokens=prompt_len, completion_tokens=len(trace.token_ids)),
            finish_reason=finish,
            token_ids=ids,
            tokens=[self._piece(i) for i in ids],
            logprobs=trace.logprobs[:kept],
            entropies=trace.entropies[:kept],
            top_logprobs=top,
            hidden=hidden,
            hidden_layer=layer,
            seconds=seconds,
            prefill_seconds=prefill_s,
        )

    def _piece(self, token: int) -> str:
        return self._require_model().piece(token, special=True).decode("utf-8", errors="replace")

    def _layer_index(self, layer: int | None) -> int | None:
        if layer is None:
            return None
        n = self.num_layers
        if not -n <= layer < n:
            raise ValueError(f"capture_layer {layer} is out of range for a model with {n} layers")
        return layer % n

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Free the context, the adapters and the model. Idempotent."""
        with self._lock:
            for merged in self._merged.values():
                merged.ctx.close()
                merged.model.close()
            self._merged.clear()
            self._ctx = None
            if self._base_ctx is not None:
                self._base_ctx.close()
                self._base_ctx = None
            for _, handle in self._adapters.values():
                handle.close()
            self._adapters.clear()
            if self._model is not None:
                self._model.close()
                self._model = None
            self._kv = []
            self._last = None

    def _require_model(self) -> LlamaModel:
        if self._model is None:
            raise BackendError("this llamacpp backend was closed; open a new one")
        return self._model

    def _require_ctx(self) -> LlamaContext:
        if self._ctx is None:
            raise BackendError("this llamacpp backend was closed; open a new one")
        return self._ctx

    def _require_base_ctx(self) -> LlamaContext:
        if self._base_ctx is None:
            raise BackendError("this llamacpp backend was closed; open a new one")
        return self._base_ctx


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def available() -> bool:
    """Whether llama-cpp-python can be imported here (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None
