"""Mean cross-entropy of the model's own next actions on demonstrations it did not train on.

The repo evaluation's quick, deterministic half: for held-out verified demonstrations
(`SelfEditStore` status `heldout`), the token-weighted mean CE (nats/token) of the
assistant turns, for the base model or base + an adapter. Lower is better. Used by the
gate, by ReST-EM to score variants, and behind `memory.repo_eval.next_action_loss`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from agent.types import ChatMessage
from memory.encoding import encode_chat
from memory.peft_lm import PeftLM

SCORE_ADAPTER = "action-loss"


def demonstration_loss(
    lm: PeftLM,
    adapter: Path | None,
    examples: Sequence[list[ChatMessage]],
    max_seq_len: int = 2048,
) -> float:
    """Token-weighted mean CE on the assistant tokens of `examples`; `lm` is left as it was."""
    import torch
    import torch.nn.functional as F

    from memory.trainer import _collate

    encoded = [e for e in (encode_chat(lm.tokenizer, x, max_seq_len) for x in examples)
               if e.n_targets]  # fmt: skip
    if not encoded:
        raise ValueError("no example has assistant tokens to score")
    name = None
    if adapter is not None:
        lm.load_adapter(SCORE_ADAPTER, adapter)
        name = SCORE_ADAPTER
    total = 0.0
    count = 0
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    try:
        with lm.active(name) as model, torch.inference_mode():
            for example in encoded:
                ids, mask, keep, targets = _collate([example], pad, str(lm.device))
                logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
                flat = logits.reshape(-1, logits.shape[-1]).float()
                total += float(F.cross_entropy(flat, targets, reduction="sum"))
                count += int(targets.numel())
    finally:
        if name is not None:
            lm.unload_adapter(name)
    return total / count
