"""Archived probe data: the labelled runs of a feature dataset, kept in the repository.

A dataset lives under ENGRAM_HOME on the machine that collected it, and machines are
replaced; a few hundred labelled steps take many sessions of this 2-core machine to
collect. An archive keeps what training and evaluation need, small enough to commit
(`docs/records/probes/<bench run>/`):

- only runs with at least one labelled step (a run whose steps are all unknown adds
  nothing to a probe's training or figures), each run whole, so prefix histories stay
  intact;
- pooled hidden states as float16 (the probes standardize their inputs; float16 keeps
  about three significant digits of values far below its range), everything else as
  collected.

An archive is an ordinary dataset directory: `engram probes train --data DIR` and
`scripts/bench_probe_cv.py --data DIR` read it next to the store's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

from probes.dataset import Dataset, DatasetError, Shard, read_shard, shard_name, write_shard
from probes.labels import UNKNOWN


class ArchiveSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    directory: str
    runs: int
    steps: int
    hallucinated: int
    clean: int
    left_out: int  # runs without a labelled step
    bytes: int


def _already_there(jsonl: Path, shard: Shard) -> bool:
    """Whether `jsonl` holds this run's shard as the archive would write it. safetensors
    writes its metadata in no fixed order, so re-archiving an unchanged run would churn
    the committed bytes; such a run is left as it is."""
    if not jsonl.is_file():
        return False
    try:
        there = read_shard(jsonl)
    except DatasetError:
        return False  # unreadable: write it again
    return (
        there.rows == shard.rows
        and there.model_id == shard.model_id
        and there.layer == shard.layer
        and there.pooled.keys() == shard.pooled.keys()
        and all(
            np.array_equal(there.pooled[k], np.asarray(v, dtype=np.float16))
            for k, v in shard.pooled.items()
        )
        and all(
            np.array_equal(getattr(there, name), getattr(shard, name))
            for name in ("mean_entropy", "min_logprob", "n_tokens")
        )
    )


def archive(dataset: Dataset, dest: Path) -> ArchiveSummary:
    """Write the labelled runs of `dataset` to `dest` (a run already there is replaced,
    unless it is there unchanged)."""
    kept = [s for s in dataset.shards if any(r.label != UNKNOWN for r in s.rows)]
    if not kept:
        raise DatasetError(
            f"none of the {len(dataset.shards)} runs has a labelled step: nothing to archive"
        )
    written = []
    try:
        for shard in kept:
            jsonl = dest / f"{shard_name(shard.run_id)}.jsonl"
            if not _already_there(jsonl, shard):
                jsonl = write_shard(dest, shard, pooled_dtype=np.float16)
            written += [jsonl, jsonl.with_suffix(".safetensors")]
    except OSError as exc:  # not a directory, disk full: the shards written so far are whole
        raise DatasetError(f"cannot archive to {dest} ({exc})") from exc
    counts = Dataset(kept).counts()
    return ArchiveSummary(
        directory=str(dest), runs=counts["runs"], steps=counts["steps"],
        hallucinated=counts["hallucinated"], clean=counts["clean"],
        left_out=len(dataset.shards) - len(kept), bytes=sum(p.stat().st_size for p in written),
    )  # fmt: skip
