"""Clamping of model-proposed hyperparameters to our safe bounds."""

from __future__ import annotations

import pytest

from agent.types import TrainingHyperparams
from memory.hyperparams import (
    LR_MAX,
    LR_MIN,
    clamp_hyperparams,
    combine_hyperparams,
)


def test_none_gives_the_defaults_without_changes():
    result = clamp_hyperparams(None)
    assert result.hyperparams == TrainingHyperparams() and not result.changed


def test_a_proposal_within_bounds_is_taken_as_is():
    proposal = TrainingHyperparams(learning_rate=5e-5, epochs=3, lora_rank=8, lora_alpha=16)
    result = clamp_hyperparams(proposal)
    assert result.hyperparams == proposal and result.changes == []


@pytest.mark.parametrize(("lr", "expected"), [(1.0, LR_MAX), (1e-9, LR_MIN), ("3e-3", LR_MAX)])
def test_learning_rate_is_clipped_into_range(lr, expected):
    result = clamp_hyperparams({"learning_rate": lr})
    assert result.hyperparams.learning_rate == expected
    assert result.changes[0].startswith("learning_rate")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, "fast", None, True])
def test_unusable_learning_rate_falls_back_to_the_default(bad):
    assert clamp_hyperparams({"lr": bad}).hyperparams.learning_rate == 1e-4


@pytest.mark.parametrize(("epochs", "expected"), [(0, 1), (50, 4), (2.6, 3)])
def test_epochs_are_bounded_integers(epochs, expected):
    assert clamp_hyperparams({"epochs": epochs}).hyperparams.epochs == expected


@pytest.mark.parametrize(("rank", "expected"), [(1, 4), (12, 16), (24, 32), (1000, 32), (-3, 16)])
def test_rank_goes_to_the_nearest_allowed_value(rank, expected):
    assert clamp_hyperparams({"rank": rank}).hyperparams.lora_rank == expected


@pytest.mark.parametrize(("alpha", "expected"), [(1, 16), (500, 64), (40, 40)])
def test_alpha_stays_within_one_to_four_times_the_rank(alpha, expected):
    assert clamp_hyperparams({"r": 16, "alpha": alpha}).hyperparams.lora_alpha == expected


def test_alpha_defaults_to_twice_the_clamped_rank():
    assert clamp_hyperparams({"lora_rank": 8}).hyperparams.lora_alpha == 16


def test_unknown_loss_falls_back_to_the_configured_default():
    result = clamp_hyperparams({"loss": "focal"}, default_loss="ce")
    assert result.hyperparams.loss == "ce" and "loss" in result.changes[0]


def test_losses_outside_the_allowed_set_are_refused():
    assert clamp_hyperparams({"loss": "ce"}, allowed_losses=["eaft"]).hyperparams.loss == "eaft"


def test_unknown_keys_are_reported_and_ignored():
    result = clamp_hyperparams({"batch_size": 512})
    assert result.hyperparams == TrainingHyperparams()
    assert result.changes == ["batch_size: ignored (not a tunable hyperparameter)"]


def test_combining_takes_medians_so_one_outlier_cannot_dominate():
    proposals = [{"lr": 5e-5, "epochs": 1}, {"lr": 6e-5, "epochs": 2}, {"lr": 1.0, "epochs": 50}]
    result = combine_hyperparams(proposals)
    assert (result.hyperparams.learning_rate, result.hyperparams.epochs) == (6e-5, 2)


def test_combining_nothing_gives_the_defaults():
    assert combine_hyperparams([]).hyperparams == TrainingHyperparams()
