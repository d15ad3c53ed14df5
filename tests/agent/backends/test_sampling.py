"""Token choice and statistics from raw logits (used by the llamacpp backend)."""

import numpy as np
import pytest

from agent.backends.sampling import Chooser, token_stats


def test_stats_are_the_raw_distributions():
    logits = np.array([2.0, 1.0, 0.0, -np.inf], dtype=np.float32)
    stats = token_stats(logits)
    p = np.exp(logits[:3]) / np.exp(logits[:3]).sum()
    assert stats.logprob(0) == pytest.approx(np.log(p[0]), abs=1e-6)
    assert stats.entropy == pytest.approx(float(-(p * np.log(p)).sum()), abs=1e-6)
    assert [i for i, _ in stats.top(2)] == [0, 1]


def test_greedy_bias_and_constraint():
    logits = np.array([0.0, 3.0, 1.0, 2.0], dtype=np.float32)
    assert Chooser(4).choose(logits) == 1
    assert Chooser(4, logit_bias={1: -10.0}).choose(logits) == 3
    allowed = {0, 2}
    mask = np.array([i in allowed for i in range(4)])
    assert Chooser(4).choose(logits, lambda t: t in allowed, lambda: mask) == 2
    with pytest.raises(ValueError):
        Chooser(4, logit_bias={7: 1.0})


def test_seeded_sampling_repeats_and_follows_the_distribution():
    logits = np.log(np.array([0.5, 0.3, 0.2], dtype=np.float32))
    draws = [Chooser(3, temperature=1.0, seed=s).choose(logits) for s in range(3000)]
    freq = np.bincount(draws, minlength=3) / len(draws)
    assert freq == pytest.approx([0.5, 0.3, 0.2], abs=0.04)
    assert Chooser(3, temperature=1.0, seed=5).choose(logits) == Chooser(
        3, temperature=1.0, seed=5).choose(logits)  # fmt: skip


def test_top_p_keeps_the_nucleus_and_constraint_renormalises():
    logits = np.log(np.array([0.6, 0.3, 0.1], dtype=np.float32))
    draws = {Chooser(3, temperature=1.0, top_p=0.7, seed=s).choose(logits) for s in range(300)}
    assert draws == {0, 1}
    mask = np.array([False, True, True])
    draws = [Chooser(3, temperature=1.0, seed=s).choose(logits, lambda t: mask[t], lambda: mask)
             for s in range(3000)]  # fmt: skip
    freq = np.bincount(draws, minlength=3) / len(draws)
    assert freq == pytest.approx([0.0, 0.75, 0.25], abs=0.04)
