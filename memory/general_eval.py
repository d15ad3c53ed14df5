"""General evaluation: does the model still code in general? (the gate's forgetting check)

Two numbers, each with and without an adapter:

- `humaneval_pass@1` — greedy pass@1 on a fixed HumanEval subset, the model's code run
  in the Docker sandbox (`memory.humaneval`);
- `heldout_loss` — mean token loss on a fixed held-out corpus of Python code
  (`memory.heldout`); lower is better.

Runtime is dominated by HumanEval generation (about 180 tokens per problem, greedy);
docs/memory.md has the measured figures on the project's 2-core machines and the
command that produced them. Lower `humaneval_n` for a quicker, noisier check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import Field

from agent.types import Model
from memory.heldout import HeldOutResult, heldout_loss
from memory.humaneval import HumanEvalResult, run_humaneval, subset
from memory.peft_lm import PeftLM
from sandboxes.base import Sandbox

EVAL_ADAPTER = "general-eval"


class GeneralEvalConfig(Model):
    humaneval_n: int = Field(default=8, ge=0, le=164, description="0 skips HumanEval")
    max_new_tokens: int = Field(default=384, ge=16)
    exec_timeout_s: float = Field(default=10.0, gt=0)
    heldout: bool = True
    heldout_window: int = Field(default=512, ge=16)
    heldout_max_windows: int = Field(default=2, ge=1)


class GeneralEvalResult(Model):
    adapter: str | None = Field(description="adapter folder evaluated, None for the base model")
    humaneval: HumanEvalResult | None = None
    heldout: HeldOutResult | None = None
    seconds: float

    def metrics(self) -> dict[str, float]:
        """Flat numbers for an AdapterVersion manifest."""
        out: dict[str, float] = {}
        if self.humaneval is not None:
            out["humaneval_pass@1"] = self.humaneval.pass_at_1
            out["humaneval_n"] = float(self.humaneval.total)
        if self.heldout is not None:
            out["heldout_loss"] = self.heldout.mean_loss
        return out


def evaluate_general(
    lm: PeftLM,
    sandbox: Sandbox | None,
    adapter: Path | None = None,
    config: GeneralEvalConfig | None = None,
    report: Callable[[str], None] | None = None,
) -> GeneralEvalResult:
    """Evaluate the base model (adapter None) or base + the adapter saved at `adapter`.

    The adapter is loaded under a private name and unloaded afterwards, so `lm` is left
    as it was. `sandbox` must isolate (Docker); it may be None only when HumanEval is
    skipped (`humaneval_n=0`).
    """
    config = config or GeneralEvalConfig()
    say = report or (lambda _msg: None)
    name = None
    if adapter is not None:
        lm.load_adapter(EVAL_ADAPTER, adapter)
        name = EVAL_ADAPTER
    started = time.perf_counter()
    try:
        human = None
        if config.humaneval_n:
            if sandbox is None:
                raise ValueError("HumanEval needs a sandbox (memory.humaneval.scratch_sandbox)")
            human = run_humaneval(
                lm, sandbox, subset(config.humaneval_n), adapter=name,
                max_new_tokens=config.max_new_tokens, timeout_s=config.exec_timeout_s,
                progress=lambda s, i, n: say(f"humaneval {i}/{n} {s.task_id}: {s.outcome}"),
            )  # fmt: skip
        held = None
        if config.heldout:
            with lm.active(name) as model:
                held = heldout_loss(
                    model, lm.tokenizer, window=config.heldout_window,
                    max_windows=config.heldout_max_windows,
                    progress=lambda f, i, n: say(f"held-out {i}/{n} {f}"),
                )  # fmt: skip
    finally:
        if name is not None:
            lm.unload_adapter(name)
    return GeneralEvalResult(
        adapter=str(adapter) if adapter is not None else None,
        humaneval=human,
        heldout=held,
        seconds=time.perf_counter() - started,
    )
