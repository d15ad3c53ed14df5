"""`probes.archive`: what an archive keeps, and that archiving again churns nothing."""

from __future__ import annotations

import numpy as np

from probes.archive import archive
from probes.dataset import Dataset, write_shard
from tests.probes.synthetic import synthetic_shard


def test_archiving_again_leaves_unchanged_runs_byte_for_byte(tmp_path):
    """safetensors orders its metadata differently from one write to the next: an
    archive committed to the repository must not change when its runs did not."""
    rng = np.random.default_rng(5)
    source = tmp_path / "dataset"
    shards = [synthetic_shard(f"r{i}", rng, bad=np.r_[0, 1, 0, 0], verified=False)
              for i in range(3)]  # fmt: skip
    for shard in shards:
        write_shard(source, shard)
    dest = tmp_path / "archive"
    first = archive(Dataset.load(source), dest)
    before = {p.name: p.read_bytes() for p in dest.iterdir()}

    changed = synthetic_shard("r1", rng, bad=np.r_[1, 1, 0, 0], verified=False)
    write_shard(source, changed)
    again = archive(Dataset.load(source), dest)
    after = {p.name: p.read_bytes() for p in dest.iterdir()}

    assert (first.runs, first.hallucinated) == (3, 3) and (again.runs, again.hallucinated) == (3, 4)
    assert again.bytes == sum(len(b) for b in after.values())
    same = [name for name in before if before[name] == after[name]]
    assert sorted(same) == ["r0.jsonl", "r0.safetensors", "r2.jsonl", "r2.safetensors"]
    assert Dataset.load(dest).counts()["hallucinated"] == 4
