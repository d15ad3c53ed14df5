"""PeftLM: a base causal LM plus named PEFT adapters, behind the LLMBackend protocol.

Memory needs to generate with and without an adapter (general evaluation), score text
(held-out likelihood) and switch adapters (the bench), all in process. This is the
small piece of that which memory owns; the agent's full `hf` backend (tool calls,
hidden states, constrained decoding) lives in `agent/backends/`, and every function in
memory that only generates takes any LLMBackend, so either can be passed.

Generation here is plain: chat template, greedy (temperature 0) or sampled, stop
strings end decoding early and are cut from the text, no tool-call parsing, no
logprobs, no hidden states.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.backends.base import BackendCapabilities, BackendError, Generation, GenerationOptions
from agent.types import ChatMessage, TokenUsage, ToolSpec
from memory.encoding import render, template_messages


class PeftLM:
    name = "peft"
    capabilities = BackendCapabilities(adapters=True, training=True)

    def __init__(self, model: Any, tokenizer: Any, model_id: str):
        self.base = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.peft: Any | None = None  # PeftModel once the first adapter is loaded
        self.adapters: dict[str, Path] = {}
        # Which base model this is (for adapter checks); set by whoever knows it.
        self.model_sha256: str | None = None

    @classmethod
    def load(cls, ref: str, dtype: str = "bfloat16", device: str = "auto") -> PeftLM:
        """Load a registry name, model folder, .gguf file or hub id (see agent.models)."""
        from agent.home import Home
        from agent.models.loader import load_causal_lm, resolve_model

        resolved = resolve_model(ref, Home.resolve().models)
        model, tokenizer = load_causal_lm(resolved, dtype=dtype, device=device)
        lm = cls(model, tokenizer, resolved.model_id)
        lm.model_sha256 = resolved.sha256
        return lm

    @property
    def device(self) -> Any:
        return next(self.base.parameters()).device

    # -- adapters ---------------------------------------------------------------

    def load_adapter(self, name: str, path: Path) -> None:
        from peft import PeftModel

        if name in self.adapters:
            raise BackendError(f"an adapter named {name!r} is already loaded; unload it first")
        if not (Path(path) / "adapter_config.json").is_file():
            raise BackendError(f"{path} holds no PEFT adapter (adapter_config.json missing)")
        if self.peft is None:
            self.peft = PeftModel.from_pretrained(self.base, str(path), adapter_name=name)
        else:
            self.peft.load_adapter(str(path), adapter_name=name)
        self.peft.eval()
        self.adapters[name] = Path(path)

    def unload_adapter(self, name: str) -> None:
        if name not in self.adapters or self.peft is None:
            return
        del self.adapters[name]
        if self.adapters:
            self.peft.delete_adapter(name)
        else:
            # The last one: take the LoRA layers out of the base model entirely, so the
            # base runs at full speed again and nothing of the adapter lingers.
            self.base = self.peft.unload()
            self.peft = None

    @contextmanager
    def active(self, adapter: str | None) -> Iterator[Any]:
        """The model to call with `adapter` active (None: the base model, adapters off)."""
        if adapter is not None and adapter not in self.adapters:
            raise BackendError(f"adapter {adapter!r} is not loaded")
        if self.peft is None:
            yield self.base
        elif adapter is None:
            with self.peft.disable_adapter():
                yield self.peft
        else:
            self.peft.set_adapter(adapter, inference_mode=True)
            yield self.peft

    # -- generation -------------------------------------------------------------

    def _prompt_ids(self, messages: list[ChatMessage], tools: list[ToolSpec] | None) -> Any:
        schemas = [_tool_schema(t) for t in tools] if tools else None
        text = render(self.tokenizer, template_messages(messages), True, schemas)
        return self.tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return int(self._prompt_ids(messages, None).shape[1])

    def generate(
        self,
        messages: list[ChatMessage],
        tools: list[ToolSpec] | None = None,
        adapter: str | None = None,
        options: GenerationOptions | None = None,
    ) -> Generation:
        import torch
        from transformers import GenerationConfig

        options = options or GenerationOptions()
        ids = self._prompt_ids(messages, tools).to(self.device)
        sample = options.temperature > 0
        # An explicit config: the model folder's defaults (sampling, penalties) must not
        # leak into what the caller asked for.
        config = GenerationConfig(
            max_new_tokens=options.max_new_tokens,
            do_sample=sample,
            temperature=options.temperature if sample else None,
            top_p=options.top_p if sample else None,
            top_k=None,
            eos_token_id=self.tokenizer.eos_token_id,
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            stop_strings=list(options.stop) or None,
        )
        if options.seed is not None:
            torch.manual_seed(options.seed)
        started = time.perf_counter()
        with self.active(adapter) as model, torch.inference_mode():
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                generation_config=config,
                tokenizer=self.tokenizer,  # needed to match stop strings while decoding
            )
        seconds = time.perf_counter() - started
        new = out[0, ids.shape[1] :].tolist()
        finish = "length" if len(new) >= options.max_new_tokens else "stop"
        if new and new[-1] == self.tokenizer.eos_token_id:
            new = new[:-1]
            finish = "stop"
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        for stop in options.stop:
            if stop in text:
                text, finish = text[: text.index(stop)], "stop"
        return Generation(
            text=text,
            usage=TokenUsage(prompt_tokens=int(ids.shape[1]), completion_tokens=len(new)),
            finish_reason=finish,
            token_ids=new,
            seconds=seconds,
        )

    def close(self) -> None:
        self.adapters.clear()
        self.peft = None


def _tool_schema(spec: ToolSpec) -> dict[str, Any]:
    properties = {
        p.name: {
            "type": p.type,
            "description": p.description,
            **({"enum": p.enum} if p.enum else {}),
        }
        for p in spec.params
    }
    return {
        "type": "function",
        "function": {
            "name": spec.name,
            "description": spec.summary,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": [p.name for p in spec.params if p.required],
            },
        },
    }
