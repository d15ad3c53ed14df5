"""From validation results to tasks: plans, candidate order, dedupe, combinations, seeding."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from bench.assembly import assemble, candidate_order, difficulty_plan, parse_sites
from bench.mutation import KINDS, Mutation, candidate_key, find_mutations
from bench.validation import CandidateResult

SOURCE = b"""\
def add(a, b):
    return a + b

def sub(a, b):
    return a - b

def clamp(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x

def head(xs):
    return xs[0], xs[1:]

def both(a, b):
    return a and b
"""


@pytest.fixture(scope="module")
def mutations() -> list[Mutation]:
    return find_mutations("calc.py", SOURCE)


def kept(ms: list[Mutation], failing: list[str]) -> CandidateResult:
    return CandidateResult(key=candidate_key(ms), mutations=ms, status="kept",
                           fail_to_pass=failing)  # fmt: skip


def survived(ms: list[Mutation]) -> CandidateResult:
    return CandidateResult(key=candidate_key(ms), mutations=ms, status="survived")


def test_parse_sites():
    assert parse_sites("1..3") == (1, 3)
    assert parse_sites("2") == (2, 2)
    for bad in ("0", "3..1", "x", "1..9"):
        with pytest.raises(ValueError):
            parse_sites(bad)


def test_difficulty_plan_weights_easier_tasks_and_is_seeded():
    plan = difficulty_plan(60, 1, 3, seed=0)
    assert Counter(plan) == {1: 30, 2: 20, 3: 10}
    assert plan == difficulty_plan(60, 1, 3, seed=0)
    assert plan != difficulty_plan(60, 1, 3, seed=1)
    assert difficulty_plan(5, 2, 2, seed=0) == [2] * 5


def test_candidate_order_is_round_robin_over_kinds_and_seeded(mutations):
    order = candidate_order(mutations, list(KINDS), seed=0)
    assert sorted(m.key for m in order) == sorted(m.key for m in mutations)
    present = [k for k in KINDS if any(m.kind == k for m in mutations)]
    assert [m.kind for m in order[: len(present)]] == present
    assert [m.key for m in order] == [m.key for m in candidate_order(mutations, list(KINDS), 0)]
    assert [m.key for m in order] != [m.key for m in candidate_order(mutations, list(KINDS), 7)]


def test_only_the_requested_kinds(mutations):
    order = candidate_order(mutations, ["comparison"], seed=0)
    assert order and {m.kind for m in order} == {"comparison"}


def test_single_site_tasks_take_kept_singles_in_order(mutations):
    order = candidate_order(mutations, list(KINDS), seed=0)
    results = {}
    for i, m in enumerate(order[:4]):
        r = kept([m], [f"t{i}"]) if i % 2 == 0 else survived([m])
        results[r.key] = r
    state = assemble([1, 1, 1], order, results)
    assert [p.mutations[0].key for p in state.picks] == [order[0].key, order[2].key]
    assert state.unfilled == [2] and state.prefix == 4


def test_the_prefix_stops_at_the_first_unvalidated_single(mutations):
    order = candidate_order(mutations, list(KINDS), seed=0)
    results = {r.key: r for r in (kept([order[0]], ["a"]), kept([order[2]], ["b"]))}
    state = assemble([1, 1], order, results)
    assert state.prefix == 1 and len(state.picks) == 1  # order[2] waits for order[1]


def test_duplicates_same_function_same_failures_are_used_once(mutations):
    clamp = [m for m in mutations if m.function == "clamp"]
    order = clamp[:3]
    results = {r.key: r for r in (kept([order[0]], ["t_clamp"]), kept([order[1]], ["t_clamp"]),
                                  kept([order[2]], ["t_clamp", "t_other"]))}  # fmt: skip
    state = assemble([1, 1, 1], order, results)
    assert [p.mutations[0].key for p in state.picks] == [order[0].key, order[2].key]


def test_multi_site_tasks_use_different_functions_and_wait_for_validation(mutations):
    by_function: dict[str, Mutation] = {}
    for m in mutations:
        by_function.setdefault(m.function, m)
    order = list(by_function.values())
    results = {kept([m], [f"t_{m.function}"]).key: kept([m], [f"t_{m.function}"]) for m in order}
    state = assemble([2], order, results)
    assert not state.picks and len(state.pending) == 1
    combo = state.pending[0]
    assert len({m.function for m in combo}) == 2
    results[candidate_key(combo)] = kept(combo, ["t_a", "t_b"])
    state = assemble([2], order, results)
    assert len(state.picks) == 1 and len(state.picks[0].components) == 2 and not state.pending


def test_a_failed_combination_uses_its_singles_up(mutations):
    by_function: dict[str, Mutation] = {}
    for m in mutations:
        by_function.setdefault(m.function, m)
    order = list(by_function.values())
    results = {kept([m], ["t"]).key: kept([m], [f"t_{m.function}"]) for m in order}
    first = assemble([2], order, results).pending[0]
    results[candidate_key(first)] = survived(first)
    second = assemble([2], order, results).pending[0]
    assert not {m.key for m in first} & {m.key for m in second}


def test_same_results_in_any_order_give_the_same_tasks(mutations):
    order = candidate_order(mutations, list(KINDS), seed=3)
    rng = random.Random(0)
    items = []
    for m in order:
        items.append(kept([m], [f"t{rng.randrange(6)}"]) if rng.random() < 0.6 else survived([m]))
    forward = {r.key: r for r in items}
    backward = {r.key: r for r in reversed(items)}
    plan = [1, 2, 1, 3, 1]
    a, b = assemble(plan, order, forward), assemble(plan, order, backward)
    assert [[m.key for m in c] for c in a.pending] == [[m.key for m in c] for c in b.pending]
    assert [p.mutations for p in a.picks] == [p.mutations for p in b.picks]


def test_combinations_never_mix_heldout_and_other_kinds(mutations):
    order = candidate_order(mutations, list(KINDS), seed=2)
    results = {}
    for m in order:
        r = kept([m], [f"t_{m.function}_{m.kind}"])
        results[r.key] = r
    heldout = frozenset({"boolean_operator", "off_by_one"})
    state = assemble([2, 2, 2, 2], order, results, heldout)
    assert state.pending
    for combo in state.pending:
        assert len({m.kind in heldout for m in combo}) == 1
