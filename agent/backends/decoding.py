"""What the `hf` backend records while transformers' `generate` runs.

One `DecodeTrace` per call, plugged into `generate` at three points:

- a `LogitsProcessor` placed first in the processor list sees the raw next-token logits
  (before logit bias, temperature or top-p): it computes the full-distribution entropy
  and keeps the log-softmax until the token is chosen;
- a `StoppingCriteria` runs right after each token is chosen: it reads the chosen
  token's log-probability, extends the decoded text, stops on a stop string, streams
  text deltas and honours cancellation;
- a forward hook on one decoder layer keeps that layer's output at the last position
  of every forward pass, i.e. one vector per generated token.

Alignment (what probes rely on): entry i of `logprobs`, `entropies` and `hidden` all
belong to generated token i. `hidden[i]` is the layer's output at the position that
*predicted* token i (the last prompt token for i = 0, token i-1 after that): the state
the model was in when it chose the token. It is computed anyway during decoding, so
capturing it costs one small copy per token. `HFBackend.replay` reproduces the same
alignment with a teacher-forced forward pass over a stored completion.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import torch
from transformers import LogitsProcessor, StoppingCriteria

from agent.backends.textstream import StopText, TextCallback

__all__ = ["DecodeTrace", "LogitBias", "TextCallback", "TraceLogits", "TraceStop"]


class DecodeTrace(StopText):
    def __init__(
        self,
        tokenizer: Any,
        prompt_len: int,
        stop: list[str],
        top_logprobs: int = 0,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ):
        super().__init__(stop, on_text, cancel)
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.top_k = top_logprobs
        self.started = time.perf_counter()
        self.first_logits_at: float | None = None

        self.token_ids: list[int] = []
        self.logprobs: list[float] = []
        self.entropies: list[float] = []
        self.top: list[list[tuple[int, float]]] = []
        self.hidden: list[torch.Tensor] = []
        self._pending: torch.Tensor | None = None

    # ---------------------------------------------------------------- logits side
    def on_logits(self, scores: torch.Tensor) -> None:
        if self.first_logits_at is None:
            self.first_logits_at = time.perf_counter()
        logp = torch.log_softmax(scores[0].float(), dim=-1)
        self.entropies.append(float(torch.special.entr(logp.exp()).sum()))
        if self.top_k:
            values, ids = torch.topk(logp, self.top_k)
            self.top.append(list(zip(ids.tolist(), values.tolist(), strict=True)))
        self._pending = logp

    # ---------------------------------------------------------------- token side
    def on_token(self, input_ids: torch.Tensor) -> bool:
        """Record the token just chosen; True when generation must stop here."""
        token = int(input_ids[0, -1])
        self.token_ids.append(token)
        if self._pending is not None:
            self.logprobs.append(float(self._pending[token]))
            self._pending = None
        # Decoding the whole completion each step is simple and exact (multi-byte
        # characters split across tokens resolve themselves); it costs well under a
        # millisecond for the lengths generated here, next to ~100 ms per token.
        return self._update(self.tokenizer.decode(self.token_ids, skip_special_tokens=True))

    # ---------------------------------------------------------------- hidden side
    def hook(self, _module: Any, _inputs: Any, output: Any) -> None:
        hidden = output[0] if isinstance(output, tuple) else output
        self.hidden.append(hidden[0, -1].detach().clone())

    # ---------------------------------------------------------------- results
    def kept_tokens(self) -> int:
        """Generated tokens that start before the stop string (all of them without one)."""
        if self.cut is None:
            return len(self.token_ids)
        kept = 0
        for k in range(len(self.token_ids)):
            start = len(self.tokenizer.decode(self.token_ids[:k], skip_special_tokens=True))
            if start >= self.cut:
                break
            kept = k + 1
        return kept

    @property
    def prefill_seconds(self) -> float:
        return (self.first_logits_at or time.perf_counter()) - self.started


class TraceLogits(LogitsProcessor):
    def __init__(self, trace: DecodeTrace):
        self.trace = trace

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.trace.on_logits(scores)
        return scores


class TraceStop(StoppingCriteria):
    def __init__(self, trace: DecodeTrace):
        self.trace = trace

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        stop = self.trace.on_token(input_ids)
        return torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)


class LogitBias(LogitsProcessor):
    """Additive bias per token id (OpenAI's `logit_bias`); runs after the trace."""

    def __init__(self, bias: dict[int, float], vocab_size: int):
        ids = [i for i in bias if 0 <= i < vocab_size]
        if len(ids) != len(bias):
            bad = sorted(set(bias) - set(ids))
            raise ValueError(f"logit_bias names token ids outside the vocabulary: {bad[:5]}")
        self.ids = torch.tensor(ids, dtype=torch.long)
        self.values = torch.tensor([bias[i] for i in ids], dtype=torch.float32)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        ids = self.ids.to(scores.device)
        scores = scores.clone()
        scores[:, ids] += self.values.to(scores.device, scores.dtype)
        return scores
