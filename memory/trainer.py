"""LoRA training on chat examples: PEFT adapters, loss on assistant tokens, CE or EAFT.

`train_lora(model, tokenizer, examples, config, out_dir)` wraps the causal LM with a
LoRA adapter (default r=16, alpha=32 on all seven Qwen2 projections), trains it with
AdamW, saves PEFT's layout to `out_dir` atomically and returns the stats.

Contract:
- Deterministic for a seed on one machine and thread count (LoRA init, dropout and the
  example order all derive from it).
- The loss of a step is normalised by the number of target tokens in the whole step,
  so `batch_size × grad_accum` sequences give the same update however they are split.
- Logits are only computed where a target follows (`logits_to_keep` mask): prompt and
  tool-output tokens, often most of a trajectory, never reach the 150k-wide LM head.
- Uses CUDA when present (`device="auto"`), else the CPU in the model's dtype (bf16
  by default: ~5.9 s/step for 2×256 tokens at r=16 on 2 cores).
- The base model is modified in place (LoRA layers injected). `result.model.unload()`
  gives it back without them.

Not guaranteed: bit-identical results across machines, thread counts or devices.
"""

from __future__ import annotations

import math
import random
import re
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from agent import atomic
from agent.types import ChatMessage, Model, TrainingHyperparams
from memory.eaft import DEFAULT_TOP_K, token_loss_terms
from memory.encoding import IGNORE, EncodedExample, encode_chat

QWEN2_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
STATS_FILE = "training.json"


class TrainingError(RuntimeError):
    """Training cannot start or went wrong; the message says what to change."""

    user_facing = True


class TrainerConfig(Model):
    learning_rate: float = Field(default=1e-4, gt=0)
    epochs: int = Field(default=2, ge=1)
    lora_rank: int = Field(default=16, ge=1)
    lora_alpha: int = Field(default=32, ge=1)
    loss: Literal["ce", "eaft"] = "eaft"
    eaft_top_k: int = Field(default=DEFAULT_TOP_K, ge=2)
    target_modules: list[str] = Field(default_factory=lambda: list(QWEN2_PROJECTIONS))
    lora_dropout: float = Field(default=0.05, ge=0, lt=1)
    batch_size: int = Field(default=1, ge=1, description="sequences per forward pass")
    grad_accum: int = Field(default=2, ge=1, description="forward passes per optimizer step")
    max_seq_len: int = Field(default=1024, ge=16)
    warmup_ratio: float = Field(default=0.1, ge=0, le=0.5)
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1, description="lr at the end, × peak")
    weight_decay: float = Field(default=0.0, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    max_steps: int | None = Field(default=None, ge=1, description="cap on optimizer steps")
    seed: int = 0
    shuffle: bool = True
    device: str = "auto"

    @classmethod
    def from_hyperparams(cls, params: TrainingHyperparams, **overrides: Any) -> TrainerConfig:
        """Take what a (clamped) proposal may set; everything else stays ours."""
        return cls(
            learning_rate=params.learning_rate,
            epochs=params.epochs,
            lora_rank=params.lora_rank,
            lora_alpha=params.lora_alpha,
            loss=params.loss,
            **overrides,
        )

    def hyperparams(self) -> TrainingHyperparams:
        return TrainingHyperparams(
            learning_rate=self.learning_rate,
            epochs=self.epochs,
            lora_rank=self.lora_rank,
            lora_alpha=self.lora_alpha,
            loss=self.loss,
        )


@dataclass
class TrainProgress:
    step: int
    total_steps: int
    epoch: int
    loss: float  # the optimised objective of this step
    ce: float  # plain cross-entropy of this step's targets (same as loss under CE)
    mean_weight: float  # mean EAFT weight (1.0 under CE)
    elapsed_s: float
    step_s: float


class TrainStats(Model):
    config: TrainerConfig
    device: str
    dtype: str
    examples: int
    skipped: list[str] = Field(default_factory=list, description="why examples were dropped")
    truncated: int = 0
    cut_inside_assistant: int = 0
    target_tokens: int = Field(description="assistant tokens per epoch")
    sequence_tokens: int = Field(description="all tokens per epoch")
    steps: int
    epochs_run: int
    losses: list[float]
    ce_losses: list[float]
    mean_weights: list[float]
    step_seconds: list[float]
    seconds: float
    trainable_params: int
    peak_rss_mb: float | None = None
    peak_cuda_mb: float | None = None

    @property
    def first_loss(self) -> float:
        return self.losses[0]

    @property
    def last_loss(self) -> float:
        return self.losses[-1]

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / max(1, self.steps)

    @property
    def seconds_per_example(self) -> float:
        """Per example seen (an example trained for 2 epochs counts twice)."""
        seen = min(self.steps * self.config.batch_size * self.config.grad_accum,
                   self.examples * self.epochs_run)  # fmt: skip
        return self.seconds / max(1, seen)


@dataclass
class TrainResult:
    adapter_dir: Path | None
    stats: TrainStats
    model: Any  # the PeftModel, in eval mode


# --------------------------------------------------------------------------- memory figures


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so the peak we read is this run's."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb() -> float | None:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else None


# --------------------------------------------------------------------------- batching


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def _collate(examples: list[EncodedExample], pad_id: int, device: str):
    import torch

    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    # Position t predicts token t+1: keep the logits of positions whose successor is a target.
    keep = torch.zeros_like(mask, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE
    targets = labels[:, 1:][keep[:, :-1]]
    return ids.to(device), mask.to(device), keep.to(device), targets.to(device)


def _lr_factor(step: int, total: int, warmup: int, floor: float) -> float:
    """Linear warm-up, then linear decay to `floor` × peak at the last step."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup - 1)
    progress = min(1.0, (step - warmup) / span)
    return 1.0 - (1.0 - floor) * progress


# --------------------------------------------------------------------------- training


def encode_examples(
    tokenizer: Any, examples: Sequence[list[ChatMessage]], max_seq_len: int
) -> tuple[list[EncodedExample], list[str]]:
    """Encode; return the usable examples and one line per dropped one."""
    usable: list[EncodedExample] = []
    skipped: list[str] = []
    for index, messages in enumerate(examples):
        encoded = encode_chat(tokenizer, messages, max_seq_len)
        if encoded.cut_inside_assistant:
            warnings.warn(f"example {index}: {'; '.join(encoded.notes)}", stacklevel=3)
        if encoded.n_targets == 0:
            why = "; ".join(encoded.notes) or "no assistant turn"
            skipped.append(f"example {index}: {why}")
            continue
        usable.append(encoded)
    return usable, skipped


def train_lora(
    model: Any,
    tokenizer: Any,
    examples: Sequence[list[ChatMessage]],
    config: TrainerConfig | None = None,
    out_dir: Path | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `examples` (each a chat; loss on assistant turns only).

    Saves the adapter in PEFT's layout to `out_dir` (atomically, with `training.json`)
    when given. Raises TrainingError when no example has anything to learn from.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    from agent.models.loader import pick_device

    config = config or TrainerConfig()
    usable, skipped = encode_examples(tokenizer, examples, config.max_seq_len)
    if not usable:
        raise TrainingError(
            "none of the examples has assistant tokens to learn from"
            + (f" ({skipped[0]})" if skipped else "")
            + "; raise max_seq_len or shorten the examples"
        )
    device = pick_device(config.device)
    model.to(device)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    torch.manual_seed(config.seed)
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    peft_model.train()
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)

    per_step = config.batch_size * config.grad_accum
    steps_per_epoch = math.ceil(len(usable) / per_step)
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    warmup = round(config.warmup_ratio * total)
    rng = random.Random(config.seed)

    on_cuda = device.startswith("cuda")
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(device)
    _reset_peak_rss()
    losses: list[float] = []
    ces: list[float] = []
    weights: list[float] = []
    step_seconds: list[float] = []
    started = time.perf_counter()
    step = 0
    epochs_run = 0
    for epoch in range(config.epochs):
        if step >= total:
            break
        epochs_run += 1
        order = list(range(len(usable)))
        if config.shuffle:
            rng.shuffle(order)
        for step_ids in _batches(order, per_step):
            if step >= total:
                break
            t0 = time.perf_counter()
            micro = _batches(step_ids, config.batch_size)
            step_targets = sum(usable[i].n_targets for i in step_ids)
            objective = ce_sum = weight_sum = 0.0
            for batch_ids in micro:
                ids, mask, keep, targets = _collate([usable[i] for i in batch_ids], pad_id, device)
                out = peft_model(input_ids=ids, attention_mask=mask, logits_to_keep=keep)
                terms = token_loss_terms(out.logits, targets, config.loss, config.eaft_top_k)
                (terms.objective_sum / step_targets).backward()
                objective += float(terms.objective_sum.detach())
                ce_sum += terms.ce_sum
                weight_sum += terms.weight_sum
                del out, terms
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate * _lr_factor(
                    step, total, warmup, config.min_lr_ratio
                )
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            step_s = time.perf_counter() - t0
            losses.append(objective / step_targets)
            ces.append(ce_sum / step_targets)
            weights.append(weight_sum / step_targets)
            step_seconds.append(step_s)
            if progress is not None:
                progress(
                    TrainProgress(
                        step=step, total_steps=total, epoch=epoch + 1, loss=losses[-1],
                        ce=ces[-1], mean_weight=weights[-1],
                        elapsed_s=time.perf_counter() - started, step_s=step_s,
                    )
                )  # fmt: skip
    seconds = time.perf_counter() - started
    peft_model.eval()
    dtype = str(next(p for p in peft_model.parameters() if not p.requires_grad).dtype)
    stats = TrainStats(
        config=config,
        device=device,
        dtype=dtype.removeprefix("torch."),
        examples=len(usable),
        skipped=skipped,
        truncated=sum(e.truncated for e in usable),
        cut_inside_assistant=sum(e.cut_inside_assistant for e in usable),
        target_tokens=sum(e.n_targets for e in usable),
        sequence_tokens=sum(len(e.input_ids) for e in usable),
        steps=step,
        epochs_run=epochs_run,
        losses=losses,
        ce_losses=ces,
        mean_weights=weights,
        step_seconds=step_seconds,
        seconds=seconds,
        trainable_params=sum(p.numel() for p in params),
        peak_rss_mb=None if on_cuda else peak_rss_mb(),
        peak_cuda_mb=torch.cuda.max_memory_allocated(device) / 2**20 if on_cuda else None,
    )
    saved = save_adapter(peft_model, out_dir, stats) if out_dir is not None else None
    return TrainResult(adapter_dir=saved, stats=stats, model=peft_model)


def save_adapter(peft_model: Any, out_dir: Path, stats: TrainStats | None = None) -> Path:
    """PEFT's layout (adapter_config.json + adapter_model.safetensors), built atomically."""
    with atomic.building_dir(out_dir) as tmp:
        peft_model.save_pretrained(str(tmp))
        if stats is not None:
            (tmp / STATS_FILE).write_text(stats.model_dump_json(indent=2) + "\n")
    return out_dir


def load_adapter(model: Any, adapter_dir: Path, adapter_name: str = "default") -> Any:
    """Wrap a base model with a saved adapter for inference (eval mode, frozen)."""
    from peft import PeftModel

    if not (adapter_dir / "adapter_config.json").is_file():
        raise TrainingError(f"{adapter_dir} holds no PEFT adapter (adapter_config.json missing)")
    loaded = PeftModel.from_pretrained(model, str(adapter_dir), adapter_name=adapter_name)
    loaded.eval()
    return loaded
