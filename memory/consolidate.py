"""Making a candidate adapter: retrain from scratch, or train a delta and merge it.

- `retrain`: a fresh LoRA on *all* accepted self-edits of the repo plus a replay share
  of general code (`memory.replay`). Cost grows with the repo's history; the result
  does not depend on the order consolidations happened in.
- `merge`: a LoRA on the *new* self-edits only (plus replay), then added to the current
  adapter with PEFT's `add_weighted_adapter(..., combination_type="cat")` at weights
  1 and 1. `cat` stacks the two low-rank factors, so the merged update is exactly the
  sum of both updates (no approximation, unlike `linear` on the factors or the slow
  `svd`); the price is rank: it is the sum of both ranks (16 → 32 → 48 …). With no
  current adapter, merge is retrain on the new edits.

Both train on `lm.base` in place and give it back without LoRA layers (`unload`), so
`lm` (a PeftLM with no adapter loaded) is as it was. The folder written is PEFT's
layout plus `training.json`, built atomically (nothing half-written is visible).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent import atomic
from agent.types import ChatMessage
from memory.trainer import STATS_FILE, TrainerConfig, TrainProgress, TrainStats, train_lora

Method = Literal["retrain", "merge"]


@dataclass
class Candidate:
    adapter_dir: Path
    method: Method
    stats: TrainStats
    lora_rank: int
    lora_alpha: int
    seconds: float  # training + merging, wall time


def _train(lm: Any, examples: list[list[ChatMessage]], config: TrainerConfig, out_dir: Path,
           progress: Callable[[TrainProgress], None] | None) -> TrainStats:  # fmt: skip
    if lm.peft is not None:
        raise RuntimeError("unload the model's adapters before training a new one")
    result = train_lora(lm.base, lm.tokenizer, examples, config, out_dir, progress)
    lm.base = result.model.unload()  # LoRA layers out: the base is as it was
    return result.stats


def retrain(lm: Any, examples: list[list[ChatMessage]], config: TrainerConfig, out_dir: Path,
            progress: Callable[[TrainProgress], None] | None = None) -> Candidate:  # fmt: skip
    started = time.perf_counter()
    stats = _train(lm, examples, config, out_dir, progress)
    return Candidate(out_dir, "retrain", stats, config.lora_rank, config.lora_alpha,
                     time.perf_counter() - started)  # fmt: skip


def merge(lm: Any, new_examples: list[list[ChatMessage]], config: TrainerConfig, out_dir: Path,
          current: Path | None,
          progress: Callable[[TrainProgress], None] | None = None) -> Candidate:  # fmt: skip
    if current is None:
        cand = retrain(lm, new_examples, config, out_dir, progress)
        cand.method = "merge"
        return cand
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=".delta-", dir=out_dir.parent) as tmp:
        delta = Path(tmp) / "delta"
        stats = _train(lm, new_examples, config, delta, progress)
        rank, alpha = merge_adapters(lm, current, delta, out_dir)
        shutil.copy(delta / STATS_FILE, out_dir / STATS_FILE)
    return Candidate(out_dir, "merge", stats, rank, alpha, time.perf_counter() - started)


def merge_adapters(lm: Any, current: Path, delta: Path, out_dir: Path) -> tuple[int, int]:
    """Write current + delta (exact sum, `cat`) as one adapter; returns (rank, alpha)."""
    from peft import PeftModel

    peft = PeftModel.from_pretrained(lm.base, str(current), adapter_name="current")
    try:
        peft.load_adapter(str(delta), adapter_name="delta")
        peft.add_weighted_adapter(["current", "delta"], [1.0, 1.0], "merged",
                                  combination_type="cat")  # fmt: skip
        peft.set_adapter("merged")
        with atomic.building_dir(out_dir) as build:
            # PEFT writes a non-default adapter into a subfolder named after it.
            peft.save_pretrained(str(build), selected_adapters=["merged"])
            sub = build / "merged"
            for entry in sub.iterdir():
                entry.rename(build / entry.name)
            sub.rmdir()
        config = json.loads((out_dir / "adapter_config.json").read_text())
    finally:
        lm.base = peft.unload()
    return int(config["r"]), int(config["lora_alpha"])
