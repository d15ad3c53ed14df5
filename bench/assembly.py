"""From validated candidates to tasks: a pure, deterministic function of the results.

The generator proposes single mutations in a seeded order (round-robin over kinds, so
every kind is represented) and validates them in that order. `assemble` then fills a
seeded *difficulty plan* (how many sites each task has) from the validated prefix of
that order:

- a one-site task takes the next kept single;
- a k-site task takes the next k kept singles that lie in k different functions (and
  are all of held-out kinds, or all of other kinds) and validates them together (each site alone already breaks a test, so every site is
  part of the fix); a combination that fails validation uses its singles up and the
  slot is tried again with the next ones.

Every kept single serves at most one task, so no two tasks share a bug. Singles in
the same function that break exactly the same tests count as duplicates; only the
first is used. Because only results matter — never the order they finished in —
the same seed and the same results give the same tasks, with any number of workers
and across a kill and resume.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from bench.mutation import KINDS, Mutation, candidate_key
from bench.validation import CandidateResult


@dataclass
class Pick:
    slot: int
    mutations: list[Mutation]
    result: CandidateResult
    components: list[CandidateResult] = field(default_factory=list)


@dataclass
class Assembly:
    picks: list[Pick]
    pending: list[list[Mutation]]  # combinations that need validating
    unfilled: list[int]  # slots without a task and without a pending combination
    prefix: int  # how many singles of the order have results
    combos: list[str]  # keys of every combination the plan used (kept or not)


def parse_sites(text: str) -> tuple[int, int]:
    """`1..3` → (1, 3); `2` → (2, 2)."""
    low, _, high = text.partition("..")
    try:
        lo, hi = int(low), int(high or low)
    except ValueError as exc:
        raise ValueError(f"--sites {text!r}: give a number or a range such as 1..3") from exc
    if not 1 <= lo <= hi <= 5:
        raise ValueError(f"--sites {text!r}: sites go from 1 to 5")
    return lo, hi


def difficulty_plan(n: int, lo: int, hi: int, seed: int) -> list[int]:
    """n site counts between lo and hi, fewer of the harder ones (weights hi-k+1), shuffled."""
    sizes = list(range(lo, hi + 1))
    weights = [hi - k + 1 for k in sizes]
    total = sum(weights)
    quotas = [n * w / total for w in weights]
    counts = [int(q) for q in quotas]
    by_remainder = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - counts[i]), i))
    for i in by_remainder[: n - sum(counts)]:
        counts[i] += 1
    plan = [k for k, c in zip(sizes, counts, strict=True) for _ in range(c)]
    random.Random(f"plan:{seed}").shuffle(plan)
    return plan


def candidate_order(mutations: list[Mutation], kinds: list[str], seed: int) -> list[Mutation]:
    """Seeded round-robin over kinds (in KINDS order), each kind's sites shuffled."""
    lists: list[list[Mutation]] = []
    for kind in [k for k in KINDS if k in kinds]:
        own = sorted((m for m in mutations if m.kind == kind), key=lambda m: m.key)
        random.Random(f"order:{seed}:{kind}").shuffle(own)
        lists.append(own)
    order: list[Mutation] = []
    for index in range(max((len(x) for x in lists), default=0)):
        order += [x[index] for x in lists if index < len(x)]
    return order


def assemble(
    plan: list[int],
    order: list[Mutation],
    results: dict[str, CandidateResult],
    heldout_kinds: frozenset[str] = frozenset(),
) -> Assembly:
    """Fill `plan` from `results` (see the module docstring).

    The sites of a multi-site task are either all of `heldout_kinds` or all of other
    kinds, so the held-out group is made of held-out kinds only and the other tasks
    never carry one.
    """
    prefix: list[tuple[Mutation, CandidateResult]] = []
    for m in order:
        result = results.get(candidate_key([m]))
        if result is None:
            break
        prefix.append((m, result))
    queue: list[tuple[Mutation, CandidateResult]] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for m, result in prefix:
        if not result.kept:
            continue
        signature = (m.scope, tuple(sorted(result.fail_to_pass)))
        if signature not in seen:
            seen.add(signature)
            queue.append((m, result))
    used = [False] * len(queue)
    picks: list[Pick] = []
    pending: list[list[Mutation]] = []
    unfilled: list[int] = []
    combos: list[str] = []
    for slot, size in enumerate(plan):
        while True:
            chosen: list[int] = []
            scopes: set[str] = set()
            group: bool | None = None
            for i, (m, _) in enumerate(queue):
                if used[i] or m.scope in scopes:
                    continue
                if group is None:
                    group = m.kind in heldout_kinds
                elif (m.kind in heldout_kinds) != group:
                    continue
                chosen.append(i)
                scopes.add(m.scope)
                if len(chosen) == size:
                    break
            if len(chosen) < size:
                unfilled.append(slot)
                break
            for i in chosen:
                used[i] = True
            if size == 1:
                m, result = queue[chosen[0]]
                picks.append(Pick(slot, [m], result))
                break
            combo = [queue[i][0] for i in chosen]
            key = candidate_key(combo)
            combos.append(key)
            result = results.get(key)
            if result is None:
                pending.append(combo)
                break
            if result.kept:
                picks.append(Pick(slot, combo, result, [queue[i][1] for i in chosen]))
                break
            # A failed combination used its singles up; try the next ones for this slot.
    return Assembly(picks, pending, unfilled, len(prefix), combos)
