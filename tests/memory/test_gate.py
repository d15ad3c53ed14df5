"""The gate's decision: repo must improve, general must stay within tolerance."""

from __future__ import annotations

from memory.gate import GateConfig, GeneralScores, RepoScores, decide

GEN = GeneralScores(humaneval_pass_at_1=0.5, humaneval_n=8, heldout_loss=1.0)


def test_promotes_when_action_loss_falls_and_general_holds():
    d = decide(RepoScores(action_loss=1.0), RepoScores(action_loss=0.8), GEN, GEN)
    assert d.promote
    assert "action loss 1.000 → 0.800" in d.reason


def test_promotes_on_more_repo_questions_answered():
    d = decide(RepoScores(qa_accuracy=0.4), RepoScores(qa_accuracy=0.5), GEN, GEN)
    assert d.promote


def test_rejects_when_repo_does_not_improve():
    d = decide(RepoScores(action_loss=1.0), RepoScores(action_loss=0.995), GEN, GEN)
    assert not d.promote
    assert "did not improve" in d.reason


def test_rejects_when_one_repo_signal_worsens_even_if_other_improves():
    d = decide(RepoScores(action_loss=1.0, qa_accuracy=0.5),
               RepoScores(action_loss=0.5, qa_accuracy=0.4), GEN, GEN)  # fmt: skip
    assert not d.promote
    assert "repo questions fell" in d.reason


def test_rejects_lost_humaneval_problem_beyond_tolerance():
    after = GEN.model_copy(update={"humaneval_pass_at_1": 0.375})
    d = decide(RepoScores(action_loss=1.0), RepoScores(action_loss=0.5), GEN, after,
               GateConfig(tolerance=0.02))  # fmt: skip
    assert not d.promote
    assert "HumanEval pass@1 fell" in d.reason


def test_humaneval_drop_within_tolerance_passes():
    after = GEN.model_copy(update={"humaneval_pass_at_1": 0.375})
    d = decide(RepoScores(action_loss=1.0), RepoScores(action_loss=0.5), GEN, after,
               GateConfig(tolerance=0.125))  # fmt: skip
    assert d.promote


def test_heldout_loss_tolerance_is_relative():
    ok = GEN.model_copy(update={"heldout_loss": 1.019})
    bad = GEN.model_copy(update={"heldout_loss": 1.021})
    repo = (RepoScores(action_loss=1.0), RepoScores(action_loss=0.5))
    assert decide(*repo, GEN, ok, GateConfig(tolerance=0.02)).promote
    rejected = decide(*repo, GEN, bad, GateConfig(tolerance=0.02))
    assert not rejected.promote and "held-out code loss rose" in rejected.reason


def test_no_repo_measurement_is_not_a_promotion():
    d = decide(RepoScores(), RepoScores(), GEN, GEN)
    assert not d.promote
    assert "no repo evaluation" in d.reason


def test_metrics_keep_both_sides():
    d = decide(RepoScores(action_loss=1.0, action_examples=3),
               RepoScores(action_loss=0.5, action_examples=3), GEN, GEN)  # fmt: skip
    assert d.metrics["repo_action_loss"] == 0.5
    assert d.metrics["incumbent_repo_action_loss"] == 1.0
    assert d.metrics["humaneval_pass@1"] == 0.5
    assert d.metrics["incumbent_heldout_loss"] == 1.0
