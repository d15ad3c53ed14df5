"""The feature dataset on disk: one shard per run under `ENGRAM_HOME/probes/<model>/data/`.

```
data/<run-id>.safetensors   pooled.<pooling name>  float32 [n, hidden]  (one per pooling)
                            mean_entropy, min_logprob  float32 [n]  (NaN: not available)
                            n_tokens  int32 [n]
                            metadata: format_version, model_id, layer, hidden_size
data/<run-id>.jsonl         one `StepRow` per line, row i ↔ array row i
```

A row is a step the monitor assessed and that had hidden states. Its `history` lists
the rows (by position in the shard) that were the kept steps when it was assessed —
exactly the monitor's view, so prefix states are rebuilt faithfully even across
rollbacks. The arrays are written first and the JSONL last, each atomically; a reader
takes a shard only when both exist and agree on the row count.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import Field, ValidationError

from agent import atomic
from agent.types import Model
from probes.labels import UNKNOWN

FORMAT_VERSION = 1


class DatasetError(ValueError):
    """A dataset that cannot be used; the message says what to do."""

    user_facing = True


class StepRow(Model):
    run_id: str
    position: int = Field(description="position of the step in the trajectory's steps")
    step_index: int
    label: int = Field(description="1 hallucinated, 0 clean, -1 unknown")
    label_source: str = "unknown"
    reasons: list[str] = Field(default_factory=list)
    run_verified: bool = False
    kept: bool = True
    resampled: bool = False
    rolled_back: bool = False
    decision: str | None = None
    history: list[int] = Field(default_factory=list, description="rows kept before this one")
    repo_id: str = ""
    task_id: str = ""
    model_id: str = ""
    adapter_version: int | None = None
    message_sha: str = ""
    tool: str = Field(default="", description="the step's tool: steps of one kind compare fairly")


@dataclass
class Shard:
    run_id: str
    model_id: str
    layer: int
    rows: list[StepRow]
    pooled: dict[str, np.ndarray]  # pooling name → [n, hidden]
    mean_entropy: np.ndarray
    min_logprob: np.ndarray
    n_tokens: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.rows)
        for name, arr in [*self.pooled.items(), ("mean_entropy", self.mean_entropy),
                          ("min_logprob", self.min_logprob), ("n_tokens", self.n_tokens)]:  # fmt: skip
            if arr.shape[0] != n:
                raise DatasetError(f"shard {self.run_id}: {name} has {arr.shape[0]} rows, not {n}")

    @property
    def hidden_size(self) -> int:
        return next(iter(self.pooled.values())).shape[1] if self.pooled else 0


def shard_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id).strip(".") or "run"


def write_shard(data_dir: Path, shard: Shard, pooled_dtype: type = np.float32) -> Path:
    """Write (or replace) a run's shard. Returns the JSONL path. `pooled_dtype`: float16
    halves an archived shard (`probes.archive`); readers widen whatever they find."""
    from safetensors.numpy import save_file

    if not shard.rows:
        raise DatasetError(f"run {shard.run_id} has no steps with features: nothing to write")
    data_dir.mkdir(parents=True, exist_ok=True)
    base = data_dir / shard_name(shard.run_id)
    arrays = {f"pooled.{k}": np.ascontiguousarray(v, dtype=pooled_dtype)
              for k, v in shard.pooled.items()}  # fmt: skip
    arrays["mean_entropy"] = np.asarray(shard.mean_entropy, dtype=np.float32)
    arrays["min_logprob"] = np.asarray(shard.min_logprob, dtype=np.float32)
    arrays["n_tokens"] = np.asarray(shard.n_tokens, dtype=np.int32)
    meta = {"format_version": str(FORMAT_VERSION), "model_id": shard.model_id,
            "layer": str(shard.layer), "hidden_size": str(shard.hidden_size)}  # fmt: skip
    tmp = base.with_name(f".{base.name}.safetensors.tmp")
    save_file(arrays, str(tmp), metadata=meta)
    atomic.write_bytes(base.with_suffix(".safetensors"), tmp.read_bytes())
    tmp.unlink()
    lines = "".join(row.model_dump_json() + "\n" for row in shard.rows)
    atomic.write_text(base.with_suffix(".jsonl"), lines)
    return base.with_suffix(".jsonl")


def read_shard(jsonl: Path) -> Shard:
    from safetensors import safe_open

    tensors = jsonl.with_suffix(".safetensors")
    try:
        rows = [
            StepRow.model_validate_json(line) for line in jsonl.read_text().splitlines() if line
        ]
        with safe_open(str(tensors), framework="numpy") as handle:
            meta = handle.metadata() or {}
            arrays = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    except (OSError, ValidationError, ValueError) as exc:
        raise DatasetError(f"{jsonl} cannot be read ({exc}); collect that run again") from exc
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise DatasetError(
            f"{tensors} has format_version {meta.get('format_version')}, this engram reads "
            f"{FORMAT_VERSION}; collect that run again"
        )
    run_id = rows[0].run_id if rows else jsonl.stem
    return Shard(
        run_id=run_id, model_id=meta.get("model_id", ""), layer=int(meta.get("layer", -1)),
        rows=rows,
        pooled={k.removeprefix("pooled."): v for k, v in arrays.items() if k.startswith("pooled.")},
        mean_entropy=arrays["mean_entropy"], min_logprob=arrays["min_logprob"],
        n_tokens=arrays["n_tokens"],
    )  # fmt: skip


def shard_hash(jsonl: Path) -> str:
    """sha256 of a shard's content: its rows and each array (name, dtype, shape, bytes).
    Not of the safetensors file's bytes, whose header order is not stable across writes."""
    from safetensors import safe_open

    digest = hashlib.sha256(jsonl.read_bytes())
    with safe_open(str(jsonl.with_suffix(".safetensors")), framework="numpy") as handle:
        for name in sorted(handle.keys()):
            arr = np.ascontiguousarray(handle.get_tensor(name))
            digest.update(f"{name}|{arr.dtype.str}|{arr.shape}".encode())
            digest.update(arr.tobytes())
        for key, value in sorted((handle.metadata() or {}).items()):
            digest.update(f"{key}={value}".encode())
    return digest.hexdigest()


@dataclass
class Dataset:
    """All shards of one model's dataset, concatenated. Row i of every array is `rows[i]`;
    `history[i]` holds global row numbers."""

    shards: list[Shard]
    hashes: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # shards that could not be read, and why

    @classmethod
    def load(cls, data_dir: Path | Sequence[Path], runs: Iterable[str] | None = None) -> Dataset:
        """Every readable shard of one directory, or of several (a probe track run's
        `probe/dataset` next to the store's, say); a run found twice is read once."""
        dirs = [data_dir] if isinstance(data_dir, Path) else list(data_dir)
        wanted = None if runs is None else {shard_name(r) for r in runs}
        shards, hashes, skipped = [], {}, []
        found = [j for d in dirs if d.is_dir() for j in sorted(d.glob("*.jsonl"))]
        for jsonl in found:
            if jsonl.stem in hashes:
                continue
            if wanted is not None and jsonl.stem not in wanted:
                continue
            if not jsonl.with_suffix(".safetensors").is_file():
                skipped.append(f"{jsonl.name}: no arrays next to it")
                continue
            try:
                shards.append(read_shard(jsonl))
            except DatasetError as exc:
                skipped.append(f"{jsonl.name}: {exc}")
                continue
            hashes[jsonl.stem] = shard_hash(jsonl)
        layers = {s.layer for s in shards}
        if len(layers) > 1:
            where = ", ".join(str(d) for d in dirs)
            raise DatasetError(f"{where} mixes layers {sorted(layers)}; keep one layer per dataset")
        return cls(shards, hashes, skipped)

    def without_repeats(self) -> tuple[Dataset, int]:
        """(this dataset with one run of each repeated run, how many were left out).

        A run of a task that said exactly the same things as an earlier run of that task
        (a greedy run made twice: a matrix run and sample 0 of a best-of-k run) is one
        observation, not two: counted twice it would weigh double in training and could
        sit on both sides of a split."""
        seen: set[tuple[str, tuple[str, ...]]] = set()
        kept: list[Shard] = []
        for shard in self.shards:
            task = shard.rows[0].task_id if shard.rows else ""
            key = (task, tuple(r.message_sha for r in shard.rows))
            if task and key in seen:
                continue
            seen.add(key)
            kept.append(shard)
        runs = {s.run_id for s in kept}
        hashes = {k: v for k, v in self.hashes.items() if k in runs}
        return Dataset(kept, hashes, list(self.skipped)), len(self.shards) - len(kept)

    @property
    def rows(self) -> list[StepRow]:
        return [row for shard in self.shards for row in shard.rows]

    @property
    def run_ids(self) -> list[str]:
        return [s.run_id for s in self.shards]

    @property
    def layer(self) -> int | None:
        return self.shards[0].layer if self.shards else None

    @property
    def poolings(self) -> list[str]:
        if not self.shards:
            return []
        common = set(self.shards[0].pooled)
        for shard in self.shards[1:]:
            common &= set(shard.pooled)
        return sorted(common)

    def features(self, pooling: str) -> np.ndarray:
        missing = [s.run_id for s in self.shards if pooling not in s.pooled]
        if missing:
            raise DatasetError(
                f"pooling {pooling!r} is not stored for runs {', '.join(missing[:5])}; "
                f"stored: {', '.join(self.poolings) or 'none'}"
            )
        return np.vstack([s.pooled[pooling] for s in self.shards]).astype(np.float64)

    @property
    def labels(self) -> np.ndarray:
        return np.array([row.label for row in self.rows], dtype=np.int64)

    @property
    def run_of_row(self) -> np.ndarray:
        return np.array([row.run_id for row in self.rows])

    def baseline(self, name: str) -> np.ndarray:
        return np.concatenate([getattr(s, name) for s in self.shards]).astype(np.float64)

    def histories(self) -> list[list[int]]:
        """Each row's history as global row numbers."""
        out: list[list[int]] = []
        offset = 0
        for shard in self.shards:
            out.extend([offset + h for h in row.history] for row in shard.rows)
            offset += len(shard.rows)
        return out

    def sequences(self, x: np.ndarray, rows: Sequence[int] | None = None):
        """(features [T, d], labels [T]) per row: its history and itself, oldest first."""
        labels = self.labels
        histories = self.histories()
        picked = range(len(labels)) if rows is None else rows
        return [(x[[*histories[i], i]], labels[[*histories[i], i]]) for i in picked]

    def counts(self) -> dict[str, int]:
        labels = self.labels
        return {"runs": len(self.shards), "steps": len(labels),
                "hallucinated": int((labels == 1).sum()), "clean": int((labels == 0).sum()),
                "unknown": int((labels == UNKNOWN).sum())}  # fmt: skip


def describe(dataset: Dataset) -> str:
    c = dataset.counts()
    return (f"{c['runs']} runs, {c['steps']} steps: {c['hallucinated']} hallucinated, "
            f"{c['clean']} clean, {c['unknown']} unknown")  # fmt: skip
