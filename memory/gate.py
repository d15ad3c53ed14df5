"""The gate: promote a candidate adapter only if it helps the repo and keeps general skill.

Pure logic over numbers measured elsewhere (`memory.evaluation`). Inputs: the repo and
general scores of the *incumbent* (the current version, or the base model when there
is none) and of the candidate.

Repo evaluation improves when at least one repo signal improves and none gets worse:

- `qa_accuracy` (closed-book questions about the repo, `memory.repo_eval`): up by more
  than `min_qa_gain` (default: any gain — one more question answered);
- `action_loss` (mean cross-entropy, nats/token, of the model's next actions on held-out
  verified demonstrations): down by at least `min_loss_gain` nats (default 0.01).

A signal measured on only one side is ignored. No signal at all → not promoted (nothing
shows the candidate helps).

General evaluation must not regress beyond `tolerance` (config
`memory.general_tolerance`):

- HumanEval-subset pass@1 may drop by at most `tolerance` (absolute; with n = 8 one
  problem is 0.125, so the default 0.02 allows no lost problem);
- held-out code loss may rise by at most `tolerance` × the incumbent's loss (relative:
  2 % by default).

The decision records every number (`metrics`, flat, for the manifest) and the reason.
"""

from __future__ import annotations

from pydantic import Field

from agent.types import Model


class RepoScores(Model):
    qa_accuracy: float | None = None
    qa_questions: int | None = None
    action_loss: float | None = None
    action_examples: int | None = None


class GeneralScores(Model):
    humaneval_pass_at_1: float | None = None
    humaneval_n: int | None = None
    heldout_loss: float | None = None


class GateConfig(Model):
    tolerance: float = Field(default=0.02, ge=0)
    min_qa_gain: float = Field(default=0.0, ge=0)
    min_loss_gain: float = Field(default=0.01, ge=0)


class GateDecision(Model):
    promote: bool
    reason: str
    metrics: dict[str, float] = Field(default_factory=dict)


def _flat(prefix: str, repo: RepoScores, general: GeneralScores) -> dict[str, float]:
    values = {
        "repo_qa_accuracy": repo.qa_accuracy,
        "repo_qa_questions": repo.qa_questions,
        "repo_action_loss": repo.action_loss,
        "repo_action_examples": repo.action_examples,
        "humaneval_pass@1": general.humaneval_pass_at_1,
        "humaneval_n": general.humaneval_n,
        "heldout_loss": general.heldout_loss,
    }
    return {f"{prefix}{k}": float(v) for k, v in values.items() if v is not None}


def decide(
    before_repo: RepoScores,
    after_repo: RepoScores,
    before_general: GeneralScores,
    after_general: GeneralScores,
    config: GateConfig | None = None,
) -> GateDecision:
    config = config or GateConfig()
    metrics = {**_flat("", after_repo, after_general),
               **_flat("incumbent_", before_repo, before_general)}  # fmt: skip
    gains: list[str] = []
    losses: list[str] = []

    a, b = before_repo.qa_accuracy, after_repo.qa_accuracy
    if a is not None and b is not None:
        if b - a > config.min_qa_gain:
            gains.append(f"repo questions {a:.3f} → {b:.3f}")
        elif b < a:
            losses.append(f"repo questions fell {a:.3f} → {b:.3f}")
    a, b = before_repo.action_loss, after_repo.action_loss
    if a is not None and b is not None:
        if a - b >= config.min_loss_gain:
            gains.append(f"held-out action loss {a:.3f} → {b:.3f}")
        elif b - a >= config.min_loss_gain:
            losses.append(f"held-out action loss rose {a:.3f} → {b:.3f}")

    regressions: list[str] = []
    a, b = before_general.humaneval_pass_at_1, after_general.humaneval_pass_at_1
    if a is not None and b is not None and a - b > config.tolerance + 1e-9:
        regressions.append(f"HumanEval pass@1 fell {a:.3f} → {b:.3f} "
                           f"(tolerance {config.tolerance:g})")  # fmt: skip
    a, b = before_general.heldout_loss, after_general.heldout_loss
    if a is not None and b is not None and b - a > config.tolerance * a + 1e-9:
        regressions.append(f"held-out code loss rose {a:.4f} → {b:.4f} "
                           f"(more than {config.tolerance:.0%})")  # fmt: skip

    if losses or regressions:
        return GateDecision(promote=False, reason="; ".join(losses + regressions), metrics=metrics)
    if not gains:
        measured = (after_repo.qa_accuracy is not None and before_repo.qa_accuracy is not None) \
            or (after_repo.action_loss is not None and before_repo.action_loss is not None)  # fmt: skip
        why = ("the repo evaluation did not improve" if measured
               else "no repo evaluation could be measured (no held-out demonstrations and "
                    "no repo questions), so nothing shows the candidate helps")  # fmt: skip
        return GateDecision(promote=False, reason=why, metrics=metrics)
    return GateDecision(promote=True, reason="; ".join(gains) + "; general evaluation within "
                        "tolerance", metrics=metrics)  # fmt: skip
