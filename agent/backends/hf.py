"""The `hf` backend: transformers + PEFT in this process. The embedded default.

It is the only backend that exposes hidden states and trains (memory can reuse `model`
and `tokenizer` rather than load a second copy). See `decoding.py` for what is
recorded per generated token and how it is aligned.

Adapters: any number of LoRA adapters by name on one base model. At rest all adapter
layers are *disabled*, so the model is the base model; `generate(adapter=name)`
activates that one adapter for the call only and disables adapters again afterwards,
whatever happens. Nothing stays active across calls.

`tools` may be ToolSpecs or OpenAI tool schemas (dicts), which `engram serve` passes
through from its clients.

Thread safety: one lock serialises generation and adapter changes (the model has one
set of weights and one active adapter at a time).

Not guaranteed: bit-identical results across machines or thread counts (bf16 matmuls on
CPU depend on both); only repeatability on one machine with the same settings.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.backends.adapters import LoraAdapters
from agent.backends.base import BackendCapabilities, BackendError, Generation, GenerationOptions
from agent.backends.messages import to_openai
from agent.backends.toolcalls import ToolList, parse_tool_calls, tool_names, tool_schemas
from agent.types import ChatMessage, TokenUsage

if TYPE_CHECKING:
    from agent.backends.decoding import TextCallback
    from agent.config import ModelSection
    from agent.home import Home


class HFBackend:
    name = "hf"
    capabilities = BackendCapabilities(
        native_tools=True, logprobs=True, hidden_states=True, training=True, adapters=True,
        prefill=True, scoring=True,
    )  # fmt: skip

    def __init__(
        self,
        model: str,
        *,
        dtype: str = "bfloat16",
        device: str = "auto",
        threads: int = 0,
        models_dir: Path | None = None,
    ):
        import torch

        from agent.models.loader import ModelNotAvailable, load_causal_lm, resolve_model

        if threads > 0:
            # Process-wide: torch has one intra-op pool. 0 keeps torch's default (all cores).
            torch.set_num_threads(threads)
        if models_dir is None:
            from agent.home import Home

            models_dir = Home.resolve().models
        try:
            resolved = resolve_model(model, models_dir)
            self._base, self.tokenizer = load_causal_lm(resolved, dtype=dtype, device=device)
        except ModelNotAvailable as exc:
            raise BackendError(str(exc)) from exc
        self.model_ref = model
        self.model_id = resolved.model_id
        self.model_sha256 = resolved.sha256
        self.load_seconds: float = getattr(self._base, "engram_load_seconds", 0.0)
        self._lora = LoraAdapters(self._base)
        self._lock = threading.RLock()
        self._layers = self._base.get_decoder().layers
        self._eos = sorted(
            {i for i in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id) if i is not None}
            | set(_as_list(self._base.generation_config.eos_token_id))
        )
        head = self._base.get_output_embeddings()
        self._vocab = head.weight.shape[0]
        head.register_forward_pre_hook(_canonical_head_input)

    @classmethod
    def from_config(cls, section: ModelSection, home: Home | None = None) -> HFBackend:
        from agent.home import Home

        home = home or Home.resolve()
        return cls(
            section.name, dtype=section.dtype, device=section.device, threads=section.threads,
            models_dir=home.models,
        )  # fmt: skip

    # ------------------------------------------------------------------ facts
    @property
    def model(self) -> Any:
        """The model to train or inspect: the PeftModel when adapters are loaded, else the base."""
        return self._lora.model

    @property
    def base_model(self) -> Any:
        """The transformers model (LoRA layers, if any, are injected into it in place)."""
        return self._base

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    @property
    def hidden_size(self) -> int:
        return int(self._base.config.hidden_size)

    @property
    def vocab_size(self) -> int:
        """Rows of the output layer: the valid token ids for logit bias."""
        return int(self._vocab)

    @property
    def eos_token_ids(self) -> list[int]:
        """Tokens that end a reply (`<|im_end|>`, `<|endoftext|>` for Qwen)."""
        return list(self._eos)

    @property
    def device(self) -> str:
        return str(self._base.device)

    @property
    def adapters(self) -> dict[str, Path]:
        return dict(self._lora.paths)

    # ------------------------------------------------------------------ prompt
    def render(self, messages: list[ChatMessage], tools: ToolList | None = None) -> str:
        """The exact prompt text the model sees (chat template + generation prompt)."""
        if not messages:
            raise ValueError("messages must not be empty")
        return self.tokenizer.apply_chat_template(
            to_openai(messages, arguments="object"), tools=tool_schemas(tools),
            add_generation_prompt=True, tokenize=False,
        )  # fmt: skip

    def encode(self, messages: list[ChatMessage], tools: ToolList | None = None) -> list[int]:
        # The template already writes every special token; the tokenizer must add none.
        return self.tokenizer(self.render(messages, tools), add_special_tokens=False)["input_ids"]

    def count_tokens(self, messages: list[ChatMessage], tools: ToolList | None = None) -> int:
        return len(self.encode(messages, tools))

    def encode_with_reply(
        self, messages: list[ChatMessage], reply: str, tools: ToolList | None = None
    ) -> tuple[list[int], list[int]]:
        """(prompt ids, reply ids) for a reply that starts right after the prompt.

        Tokenized jointly, as training tokenizes a rendered conversation, and split where
        the prompt alone ends; where joint tokenization crosses that boundary (it does
        not for chat templates that end the prompt with a newline), the reply is
        tokenized on its own.
        """
        prompt = self.encode(messages, tools)
        if not reply:
            return prompt, []
        joint = self.tokenizer(self.render(messages, tools) + reply, add_special_tokens=False)[
            "input_ids"
        ]
        if joint[: len(prompt)] == prompt:
            return prompt, joint[len(prompt) :]
        return prompt, self.tokenizer(reply, add_special_tokens=False)["input_ids"]

    # ------------------------------------------------------------------ adapters
    def load_adapter(self, name: str, path: Path) -> None:
        """Load a LoRA adapter saved in PEFT layout; an existing `name` is replaced."""
        with self._lock:
            self._require_open()
            self._lora.load(name, Path(path), self.model_id)

    def unload_adapter(self, name: str) -> None:
        with self._lock:
            self._require_open()
            self._lora.remove(name)

    @contextlib.contextmanager
    def using_adapter(self, adapter: str | None) -> Iterator[Any]:
        """Run your own forward passes with `adapter` active (None: the base model).

        Holds the backend's lock; yields the transformers model.
        """
        with self._lock, self._lora.active(adapter):
            yield self._base

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
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        from agent.backends.decoding import DecodeTrace, LogitBias, TraceLogits, TraceStop

        self._require_open()
        options = options or GenerationOptions()
        if options.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        prompt, forced = self.encode_with_reply(messages, options.prefix, tools)
        prompt = prompt + forced
        trace = DecodeTrace(
            self.tokenizer, len(prompt), options.stop, options.top_logprobs, on_text, cancel
        )
        processors = LogitsProcessorList([TraceLogits(trace)])
        if options.logit_bias:
            processors.append(LogitBias(options.logit_bias, self._vocab))
        sample = options.temperature > 0
        config = GenerationConfig(
            max_new_tokens=options.max_new_tokens,
            do_sample=sample,
            temperature=options.temperature if sample else 1.0,
            top_p=options.top_p if sample else 1.0,
            # Explicit, so a checkpoint's generation_config (top_k=20, repetition_penalty
            # 1.05 for Qwen's own) never changes what the options ask for.
            top_k=0 if sample else None,
            repetition_penalty=1.0,
            eos_token_id=self._eos,
            pad_token_id=self.tokenizer.pad_token_id or self._eos[0],
        )
        layer = self._layer_index(options.capture_layer)
        input_ids = torch.tensor([prompt], dtype=torch.long, device=self._base.device)
        with self._lock, self._lora.active(adapter), torch.inference_mode():
            handle = (
                self._layers[layer].register_forward_hook(trace.hook) if layer is not None else None
            )
            try:
                with _seeded(options.seed if sample else None, self._base.device):
                    trace.started = time.perf_counter()
                    self._base.generate(
                        input_ids=input_ids,
                        attention_mask=torch.ones_like(input_ids),
                        generation_config=config,
                        logits_processor=processors,
                        stopping_criteria=StoppingCriteriaList([TraceStop(trace)]),
                    )
            finally:
                if handle is not None:
                    handle.remove()
        seconds = time.perf_counter() - trace.started
        trace.flush()
        return self._result(trace, tools, layer, seconds, options)

    def _result(
        self, trace: Any, tools: ToolList | None, layer: int | None, seconds: float,
        options: GenerationOptions,
    ) -> Generation:  # fmt: skip
        import numpy as np
        import torch

        kept = trace.kept_tokens()
        text = trace.final_text
        calls = parse_tool_calls(text, tool_names(tools)).calls if tools else []
        if calls:
            finish = "tool_calls"
        elif trace.stopped_by is not None or (trace.token_ids and trace.token_ids[-1] in self._eos):
            finish = "stop"
        else:
            finish = "length"
        hidden = None
        if layer is not None and kept:
            hidden = torch.stack(trace.hidden[:kept]).float().cpu().numpy()
        elif layer is not None:  # a stop string right at the start: no tokens kept
            hidden = np.zeros((0, self.hidden_size), dtype=np.float32)
        ids = trace.token_ids[:kept]
        top = None
        if options.top_logprobs:
            top = [[(self._piece(i), lp) for i, lp in step] for step in trace.top[:kept]]
        return Generation(
            text=text,
            tool_calls=calls,
            usage=TokenUsage(
                prompt_tokens=trace.prompt_len, completion_tokens=len(trace.token_ids)
            ),
            finish_reason=finish,
            token_ids=ids,
            tokens=[self._piece(i) for i in ids],
            logprobs=trace.logprobs[:kept],
            entropies=trace.entropies[:kept],
            top_logprobs=top,
            hidden=hidden,
            hidden_layer=layer,
            seconds=seconds,
            prefill_seconds=trace.prefill_seconds,
        )

    def _piece(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    def _layer_index(self, layer: int | None) -> int | None:
        if layer is None:
            return None
        n = len(self._layers)
        if not -n <= layer < n:
            raise ValueError(f"capture_layer {layer} is out of range for a model with {n} layers")
        return layer % n

    # ------------------------------------------------------------------ replay
    def replay(
        self,
        messages: list[ChatMessage],
        completion: list[int] | str,
        tools: ToolList | None = None,
        adapter: str | None = None,
        capture_layer: int | None = None,
    ) -> Generation:
        """Score a given completion with one teacher-forced forward pass.

        Returns what `generate` would have recorded had it produced exactly these tokens
        (same alignment of `logprobs`, `entropies` and `hidden`): how probes get features
        for stored trajectories. `completion` is token ids, or text to tokenize.
        """
        import torch

        self._require_open()
        prompt = self.encode(messages, tools)
        ids = (
            self.tokenizer(completion, add_special_tokens=False)["input_ids"]
            if isinstance(completion, str)
            else list(completion)
        )
        if not ids:
            raise ValueError("completion is empty")
        layer = self._layer_index(capture_layer)
        captured: list[Any] = []

        def hook(_m: Any, _i: Any, output: Any) -> None:
            captured.append(output[0] if isinstance(output, tuple) else output)

        full = torch.tensor([prompt + ids], dtype=torch.long, device=self._base.device)
        # Position p predicts token p+1: the completion's tokens are predicted from
        # positions len(prompt)-1 … len(full)-2.
        span = slice(len(prompt) - 1, len(prompt) + len(ids) - 1)
        started = time.perf_counter()
        with self._lock, self._lora.active(adapter), torch.inference_mode():
            handle = self._layers[layer].register_forward_hook(hook) if layer is not None else None
            try:
                logits = self._base(input_ids=full).logits[0, span].float()
            finally:
                if handle is not None:
                    handle.remove()
        logp = torch.log_softmax(logits, dim=-1)
        target = torch.tensor(ids, device=logp.device)
        return Generation(
            text=self.tokenizer.decode(ids, skip_special_tokens=True),
            usage=TokenUsage(prompt_tokens=len(prompt), completion_tokens=len(ids)),
            token_ids=ids,
            tokens=[self._piece(i) for i in ids],
            logprobs=logp.gather(1, target[:, None])[:, 0].tolist(),
            entropies=torch.special.entr(logp.exp()).sum(-1).tolist(),
            hidden=captured[0][0, span].float().cpu().numpy() if layer is not None else None,
            hidden_layer=layer,
            seconds=time.perf_counter() - started,
        )

    def score(
        self,
        messages: list[ChatMessage],
        reply: str,
        tools: ToolList | None = None,
        adapter: str | None = None,
        top_logprobs: int = 0,
    ) -> Generation:
        """The model's log-probabilities for `reply` after `messages` (CompletionScorer):
        one teacher-forced forward pass, nothing sampled."""
        import torch

        self._require_open()
        prompt, ids = self.encode_with_reply(messages, reply, tools)
        if not ids:
            raise ValueError("reply is empty")
        full = torch.tensor([prompt + ids], dtype=torch.long, device=self._base.device)
        started = time.perf_counter()
        with self._lock, self._lora.active(adapter), torch.inference_mode():
            # The last len(ids) + 1 positions: from the prompt's last token (which predicts
            # the reply's first) to the reply's last (whose prediction is dropped).
            logits = self._base(input_ids=full, logits_to_keep=len(ids) + 1).logits[0, :-1]
        logp = torch.log_softmax(logits.float(), dim=-1)
        target = torch.tensor(ids, device=logp.device)
        top = None
        if top_logprobs:
            values, index = torch.topk(logp, top_logprobs, dim=-1)
            top = [
                [(self._piece(i), v) for i, v in zip(row_i, row_v, strict=True)]
                for row_i, row_v in zip(index.tolist(), values.tolist(), strict=True)
            ]
        return Generation(
            text=reply,
            usage=TokenUsage(prompt_tokens=len(prompt), completion_tokens=len(ids)),
            token_ids=ids,
            tokens=[self._piece(i) for i in ids],
            logprobs=logp.gather(1, target[:, None])[:, 0].tolist(),
            top_logprobs=top,
            entropies=torch.special.entr(logp.exp()).sum(-1).tolist(),
            seconds=time.perf_counter() - started,
        )

    def close(self) -> None:
        """Drop the model (memory is freed once no one else holds it). Idempotent."""
        with self._lock:
            if self._base is not None:
                self._lora.clear()
            self._base = None
            self._layers = []

    def _require_open(self) -> None:
        if self._base is None:
            raise BackendError("this hf backend was closed; open a new one")


@contextlib.contextmanager
def _seeded(seed: int | None, device: Any) -> Iterator[None]:
    """Seed sampling without disturbing the process's global random state."""
    if seed is None:
        yield
        return
    import torch

    devices = [device] if getattr(device, "type", "cpu") == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _canonical_head_input(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """Give the LM head its input with plain strides.

    At prefill the head sees the last position sliced out of the prompt's hidden states:
    shape (1, 1, hidden) with a batch stride of prompt_len * hidden. With a frozen
    weight (requires_grad=False, which PEFT sets on the base model and which stays after
    the adapters are gone) torch 2.13 on CPU then takes a batched-matmul path that costs
    about a second for a 152k vocabulary instead of 30 ms (scripts/bench_backends.py,
    docs/backends.md). Copying the one row to fresh strides avoids it.
    """
    import torch

    x = args[0]
    if x.dim() == 3 and x.stride(0) != x.shape[1] * x.shape[2]:
        return (x.clone(memory_format=torch.contiguous_format), *args[1:])
    return None


def _as_list(value: Any) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [int(value)]
