"""EAFT weights and token losses (memory/eaft.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from memory.eaft import token_loss_terms, topk_entropy_weights


@pytest.mark.parametrize("scale", [0.01, 1.0, 30.0, 1e4])
def test_weights_lie_in_zero_one(scale):
    torch.manual_seed(0)
    weights = topk_entropy_weights(torch.randn(64, 500) * scale)
    assert weights.shape == (64,) and float(weights.min()) >= 0.0 and float(weights.max()) <= 1.0


def test_flat_top_k_gives_weight_one():
    logits = torch.full((1, 100), -50.0)
    logits[0, :20] = 3.0  # the top 20 are tied: maximal entropy over the top k
    assert math.isclose(float(topk_entropy_weights(logits, k=20)[0]), 1.0, rel_tol=1e-5)


def test_confident_prediction_gives_weight_near_zero():
    logits = torch.zeros(1, 100)
    logits[0, 7] = 40.0
    assert float(topk_entropy_weights(logits)[0]) < 1e-6


def test_weight_uses_only_the_top_k():
    # Same top 20, very different tails: the weight must not change.
    torch.manual_seed(1)
    head = torch.randn(1, 20) + 10
    tail_a, tail_b = torch.full((1, 80), -20.0), torch.randn(1, 80) - 5
    a = topk_entropy_weights(torch.cat([head, tail_a], 1))
    b = topk_entropy_weights(torch.cat([head, tail_b], 1))
    assert torch.allclose(a, b)


def test_weights_carry_no_gradient():
    logits = torch.randn(8, 50, requires_grad=True)
    weights = topk_entropy_weights(logits)
    assert not weights.requires_grad and weights.grad_fn is None


def test_eaft_gradient_is_the_weighted_ce_gradient():
    torch.manual_seed(2)
    logits = torch.randn(6, 40, requires_grad=True)
    targets = torch.randint(0, 40, (6,))
    token_loss_terms(logits, targets, "eaft").objective_sum.backward()
    got = logits.grad.clone()
    logits.grad = None
    weights = topk_entropy_weights(logits)  # constants
    (weights * F.cross_entropy(logits, targets, reduction="none")).sum().backward()
    assert torch.allclose(got, logits.grad, atol=1e-6)


def test_ce_objective_is_summed_cross_entropy():
    torch.manual_seed(3)
    logits, targets = torch.randn(5, 30), torch.randint(0, 30, (5,))
    terms = token_loss_terms(logits, targets, "ce")
    expected = float(F.cross_entropy(logits, targets, reduction="sum"))
    assert math.isclose(float(terms.objective_sum), expected, rel_tol=1e-6)
    assert (terms.tokens, terms.weight_sum) == (5, 5.0)


def test_eaft_never_exceeds_ce():
    torch.manual_seed(4)
    logits, targets = torch.randn(32, 60), torch.randint(0, 60, (32,))
    terms = token_loss_terms(logits, targets, "eaft")
    assert float(terms.objective_sum) <= terms.ce_sum + 1e-5


def test_k_larger_than_the_vocabulary_is_capped():
    assert topk_entropy_weights(torch.zeros(2, 5), k=20).tolist() == pytest.approx([1.0, 1.0])


def test_unknown_loss_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown loss"):
        token_loss_terms(torch.zeros(1, 4), torch.zeros(1, dtype=torch.long), "focal")
