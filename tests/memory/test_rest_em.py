"""ReST-EM's loop: K samples, each scored, the best kept; failures recorded, never chosen."""

from __future__ import annotations

import pytest

from memory.rest_em import best_variant
from tests.memory.test_self_edit_store import make_edit


def test_keeps_the_lowest_score():
    edits = {s: [make_edit(f"v{s}")] for s in range(3)}
    scores = {edits[0][0].id: 0.9, edits[1][0].id: 0.4, edits[2][0].id: 0.6}
    best, variants = best_variant(3, lambda s: edits[s], lambda e: scores[e[0].id])
    assert best.sample == 1 and best.edits == edits[1]
    assert [v.score for v in variants] == [0.9, 0.4, 0.6]


def test_failures_are_recorded_and_not_chosen():
    def propose(sample):
        if sample == 0:
            raise RuntimeError("model said nothing useful")
        return [] if sample == 1 else [make_edit("ok")]

    best, variants = best_variant(3, propose, lambda e: 1.0)
    assert best.sample == 2
    assert "RuntimeError" in variants[0].error and "nothing grounded" in variants[1].error


def test_nothing_scored_gives_none():
    def score(_edits):
        raise ValueError("no held-out checks")

    best, variants = best_variant(2, lambda s: [make_edit(f"x{s}")], score)
    assert best is None and all("ValueError" in v.error for v in variants)


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        best_variant(0, lambda s: [], lambda e: 0.0)
