"""Train/test splits, deterministic and stratified by mutation kind, plus a held-out group.

- `heldout_kind`: every task with a site of a held-out kind is in `test`, so the
  training split never contains that kind of bug — what "solves tasks of a different
  kind of mutation" is measured on.
- `in_kind`: the other tasks, split within each primary kind (the kind most of a
  task's sites have) by a seeded hash of the instance id: the same seed always gives
  the same split, and adding tasks moves none of the existing ones between splits
  except within their own kind's quota.
"""

from __future__ import annotations

import hashlib
from collections import Counter

from bench.tasks import BenchTask

DEFAULT_HELDOUT = ("boolean_operator", "swapped_arguments")
DEFAULT_TEST_FRACTION = 0.3


def primary_kind(task: BenchTask) -> str:
    counts = Counter(m.kind for m in task.mutations or [])
    if not counts:
        return "unknown"
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def _rank(seed: int, instance_id: str) -> str:
    return hashlib.sha256(f"{seed}:{instance_id}".encode()).hexdigest()


def assign_splits(
    tasks: list[BenchTask],
    seed: int = 0,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    heldout_kinds: tuple[str, ...] | list[str] = DEFAULT_HELDOUT,
) -> list[BenchTask]:
    """Set `split` and `group` on every task (in place; also returned)."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    heldout = set(heldout_kinds)
    strata: dict[str, list[BenchTask]] = {}
    for task in tasks:
        if heldout & set(task.kinds):
            task.split, task.group = "test", "heldout_kind"
        else:
            strata.setdefault(primary_kind(task), []).append(task)
    for members in strata.values():
        members.sort(key=lambda t: _rank(seed, t.instance_id))
        n_test = int(len(members) * test_fraction + 0.5)
        for index, task in enumerate(members):
            task.split = "test" if index < n_test else "train"
            task.group = "in_kind"
    return tasks


def split_summary(tasks: list[BenchTask]) -> dict[str, dict[str, int]]:
    """{primary kind: {train, test, heldout_kind}} counts, for reports and docs."""
    out: dict[str, dict[str, int]] = {}
    for task in tasks:
        row = out.setdefault(primary_kind(task), {"train": 0, "test": 0, "heldout_kind": 0})
        if task.group == "heldout_kind":
            row["heldout_kind"] += 1
        elif task.split in ("train", "test"):
            row[task.split] += 1
    return out
