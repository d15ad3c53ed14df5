"""Replay data: general code, never the evaluation problems."""

from __future__ import annotations

from memory.humaneval import INSTRUCTION, subset
from memory.replay import evaluation_ids, replay_count, replay_examples, replay_pool


def test_pool_excludes_every_evaluation_subset():
    pool = {p.task_id for p in replay_pool()}
    for n in (1, 2, 4, 8, 16, 20, 32, 40):
        assert not pool & {p.task_id for p in subset(n)}
    assert len(pool) == 164 - len(evaluation_ids()) == 100


def test_count_follows_share():
    assert replay_count(7, 0.3) == 3
    assert replay_count(1, 0.3) == 1
    assert replay_count(5, 0.0) == 0


def test_examples_are_seeded_and_use_canonical_solutions():
    a = replay_examples(7, 0.3, seed=1)
    assert a == replay_examples(7, 0.3, seed=1)
    assert a != replay_examples(7, 0.3, seed=2)
    user, reply = a[0]
    assert user.role == "user" and reply.role == "assistant"
    assert reply.content.startswith("```python\n") and reply.content.endswith("```")
    assert INSTRUCTION not in user.content  # not the evaluation's wording
    compile(reply.content.removeprefix("```python\n").removesuffix("```"), "replay", "exec")
