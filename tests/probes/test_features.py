"""probes.features: layer choice, pooling weights, feature extraction and baselines."""

from __future__ import annotations

import numpy as np
import pytest

from agent.backends.base import Generation
from probes.features import (
    NoFeatures,
    Pooling,
    baseline_scores,
    baselines,
    default_layer,
    step_features,
)


def test_default_layer_is_two_thirds_of_the_depth():
    assert default_layer(24) == 16
    assert default_layer(28) == 19
    assert default_layer(1) == 0


@pytest.mark.parametrize("kind", ["exp", "linear", "mean", "last"])
def test_weights_are_a_distribution(kind):
    for n in (1, 2, 7, 300):
        w = Pooling(kind=kind).weights(n)
        assert w.shape == (n,)
        assert (w >= 0).all()
        assert w.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["exp", "linear"])
def test_later_tokens_weigh_more(kind):
    w = Pooling(kind=kind).weights(50)
    assert (np.diff(w) > 0).all()


def test_exp_half_life_halves_the_weight_every_quarter_of_the_step():
    w = Pooling(kind="exp", half_life=0.25).weights(400)
    # Quarters weigh 8/15, 4/15, 2/15, 1/15 from the end.
    assert w[-100:].sum() == pytest.approx(8 / 15, abs=0.005)
    assert w[-200:-100].sum() == pytest.approx(4 / 15, abs=0.005)
    # One half life back from the end, a token weighs half as much as the last one.
    assert w[-101] / w[-1] == pytest.approx(0.5, rel=0.02)


def test_half_life_is_relative_to_the_step_length():
    short = Pooling().weights(40)
    long = Pooling().weights(400)
    assert short[-10:].sum() == pytest.approx(long[-100:].sum(), abs=0.03)


def test_pool_is_the_weighted_mean_of_the_token_states():
    rng = np.random.default_rng(0)
    states = rng.normal(size=(9, 5)).astype(np.float32)
    for pooling in (Pooling(), Pooling(kind="linear"), Pooling(kind="mean")):
        expected = pooling.weights(9) @ states.astype(np.float64)
        np.testing.assert_allclose(pooling.pool(states), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(Pooling(kind="last").pool(states), states[-1])


def test_pooling_names_round_trip():
    for text in ("exp:0.25", "exp:0.1", "linear", "mean", "last"):
        assert Pooling.parse(text).name == text
    assert Pooling.parse("exp") == Pooling()
    with pytest.raises(ValueError):
        Pooling.parse("max")
    with pytest.raises(ValueError):
        Pooling.parse("mean:0.3")


def _generation(hidden, layer=3, logprobs=None, entropies=None):
    return Generation(text="x", hidden=hidden, hidden_layer=layer, logprobs=logprobs,
                      entropies=entropies)  # fmt: skip


def test_step_features_pool_the_capture_layer_and_carry_the_baselines():
    hidden = np.arange(12, dtype=np.float32).reshape(4, 3)
    gen = _generation(hidden, logprobs=[-0.1, -2.5, -0.3, -0.2], entropies=[0.5, 1.5, 1.0, 1.0])
    f = step_features(gen, 3, Pooling(kind="mean"))
    np.testing.assert_allclose(f.vector, hidden.mean(axis=0))
    assert (f.layer, f.pooling, f.n_tokens) == (3, "mean", 4)
    assert f.mean_entropy == pytest.approx(1.0)
    assert f.min_logprob == pytest.approx(-2.5)


@pytest.mark.parametrize(
    ("hidden", "layer", "words"),
    [
        (None, 3, "no hidden states"),
        (np.ones((2, 3), dtype=np.float32), 5, "layer 3"),
        (np.zeros((0, 3), dtype=np.float32), 3, "no token states"),
        (np.array([[1.0, np.nan]], dtype=np.float32), 3, "NaN"),
    ],
)
def test_unusable_generations_say_why(hidden, layer, words):
    with pytest.raises(NoFeatures, match=words):
        step_features(_generation(hidden, layer=3), layer, Pooling())


def test_baselines_absent_when_the_backend_gives_none():
    assert baselines(Generation(text="x")) == (None, None)


def test_baseline_scores_are_higher_for_more_suspicious_steps():
    scores = baseline_scores([0.2, 2.0], [-0.1, -6.0])
    assert scores["entropy"][1] > scores["entropy"][0]
    assert scores["min_logprob"][1] > scores["min_logprob"][0]
