"""probes.inputs: what a probe reads (hidden state, token statistics, or both), the same
at training and at scoring, on synthetic data where the answer is known."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probes.dataset import Dataset, write_shard
from probes.features import StepFeatures
from probes.inputs import dataset_matrix, step_vector
from probes.logistic import Standardizer
from probes.store import ProbeStore
from probes.training import TrainOptions, train_probe
from tests.probes.synthetic import DIM, POOLING, synthetic_shard


@pytest.fixture(scope="module")
def logprob_dataset(tmp_path_factory):
    """Hallucinated steps have a low minimum logprob; the hidden state carries nothing."""
    directory = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(5)
    for i in range(60):
        shard = synthetic_shard(f"run-{i:03d}", rng, shift=0.0, task_id=f"task-{i:03d}")
        bad = np.array([row.label == 1 for row in shard.rows], dtype=float)
        shard.min_logprob = (-1.0 - 4.0 * bad + 0.5 * rng.normal(size=len(bad))).astype(np.float32)
        write_shard(directory, shard)
    return Dataset.load(directory)


def test_the_matrix_has_the_hidden_state_then_the_two_statistics(logprob_dataset):
    hidden = logprob_dataset.features(POOLING)
    both = dataset_matrix(logprob_dataset, POOLING, "hidden+baselines")
    stats = dataset_matrix(logprob_dataset, POOLING, "baselines")
    assert both.shape == (len(hidden), DIM + 2) and stats.shape == (len(hidden), 2)
    np.testing.assert_allclose(both[:, :DIM], hidden)
    np.testing.assert_allclose(both[:, DIM], logprob_dataset.baseline("min_logprob"))
    np.testing.assert_allclose(both[:, DIM + 1], logprob_dataset.baseline("mean_entropy"))
    np.testing.assert_allclose(dataset_matrix(logprob_dataset, POOLING, "hidden"), hidden)
    with pytest.raises(ValueError, match="unknown probe inputs"):
        dataset_matrix(logprob_dataset, POOLING, "logits")


def test_a_live_step_reads_as_its_dataset_row(logprob_dataset):
    row = 7
    x = dataset_matrix(logprob_dataset, POOLING, "hidden+baselines")[row]
    features = StepFeatures(
        vector=logprob_dataset.features(POOLING)[row], layer=2, pooling=POOLING, n_tokens=40,
        min_logprob=float(logprob_dataset.baseline("min_logprob")[row]),
        mean_entropy=float(logprob_dataset.baseline("mean_entropy")[row]),
    )  # fmt: skip
    np.testing.assert_allclose(step_vector(features, "hidden+baselines"), x, rtol=1e-6)
    assert step_vector(features, "baselines").shape == (2,)
    missing = StepFeatures(vector=features.vector, layer=2, pooling=POOLING, n_tokens=40)
    assert np.isnan(step_vector(missing, "baselines")).all()


def test_a_probe_on_the_statistics_finds_what_the_hidden_state_lacks(logprob_dataset, tmp_path):
    on_stats, stats_eval = train_probe(
        logprob_dataset, "test/model", TrainOptions(inputs="baselines")
    )
    _, hidden_eval = train_probe(logprob_dataset, "test/model", TrainOptions(inputs="hidden"))
    assert stats_eval.step_auroc > 0.95
    assert abs(hidden_eval.step_auroc - 0.5) < 0.2
    assert on_stats.card.inputs == "baselines" and on_stats.step.dim == 2
    # The choice travels with the stored probe, and live scoring reads the same inputs.
    store = ProbeStore(tmp_path / "probes")
    store.save(on_stats)
    loaded = store.load("test/model")
    assert loaded.card.inputs == "baselines"
    vector = np.zeros(DIM, dtype=np.float32)
    low = StepFeatures(vector=vector, layer=2, pooling=POOLING, n_tokens=40,
                       min_logprob=-6.0, mean_entropy=1.0)  # fmt: skip
    high = StepFeatures(vector=vector, layer=2, pooling=POOLING, n_tokens=40,
                        min_logprob=-0.5, mean_entropy=1.0)  # fmt: skip
    flagged, passed = loaded.score(low, []), loaded.score(high, [])
    assert flagged.step_score > flagged.step_threshold > passed.step_score
    # A backend without token records: the missing statistics read as the training mean.
    blank = StepFeatures(vector=vector, layer=2, pooling=POOLING, n_tokens=40)
    mean = loaded.step.standardizer.mean
    typical = StepFeatures(vector=vector, layer=2, pooling=POOLING, n_tokens=40,
                           min_logprob=float(mean[0]), mean_entropy=float(mean[1]))  # fmt: skip
    assert loaded.score(blank, [low]).step_score == pytest.approx(
        loaded.score(typical, [low]).step_score
    )


def test_a_card_written_before_inputs_existed_reads_as_hidden(logprob_dataset, tmp_path):
    probe, _ = train_probe(logprob_dataset, "test/model", TrainOptions())
    store = ProbeStore(tmp_path / "probes")
    directory = store.save(probe)
    card_file = directory / "probe.json"
    card = json.loads(card_file.read_text())
    del card["inputs"]
    card_file.write_text(json.dumps(card))
    assert store.load("test/model").card.inputs == "hidden"


def test_the_standardizer_ignores_missing_values_and_maps_them_to_the_mean():
    x = np.array([[1.0, np.nan], [3.0, 4.0], [np.nan, 8.0]])
    s = Standardizer.fit(x)
    np.testing.assert_allclose(s.mean, [2.0, 6.0])
    np.testing.assert_allclose(s.scale, [1.0, 2.0])
    np.testing.assert_allclose(s.transform(x), [[-1.0, 0.0], [1.0, -1.0], [0.0, 1.0]])


# --------------------------------------------------------------------------- live runs


def _stats_probe(dataset, tmp_path):
    """The statistics probe, saved for "test/model" in the test's home."""
    probe, _ = train_probe(dataset, "test/model", TrainOptions(inputs="baselines"))
    ProbeStore.for_home().save(probe)
    return probe


def test_a_statistics_probe_monitors_a_backend_without_hidden_states(logprob_dataset, tmp_path):
    """No layer is captured and no teacher opened: the token logprobs are enough."""
    from agent.backends.base import BackendCapabilities, Generation
    from agent.backends.fake import FakeBackend
    from agent.config import EngramConfig
    from agent.monitor import MonitorInput
    from agent.types import Decision, Step
    from probes.monitor import ProbeMonitor, open_probing

    probe = _stats_probe(logprob_dataset, tmp_path)
    assert not probe.needs_hidden
    config = EngramConfig()
    config.model.name = "no-such-model-anywhere"  # a teacher could not be opened
    backend = FakeBackend([], model_id="test/model",
                          capabilities=BackendCapabilities(logprobs=True))  # fmt: skip
    probing = open_probing(backend, config)
    assert isinstance(probing.monitor, ProbeMonitor) and probing.backend is backend
    assert probing.capture_layer is None and "token statistics" in probing.note
    invented = Generation(text="edit", logprobs=[-0.1, -7.0, -0.2], entropies=[0.3, 1.0, 0.2])
    plain = Generation(text="view", logprobs=[-0.1, -0.4, -0.2], entropies=[0.3, 1.0, 0.2])
    first = probing.monitor.assess(MonitorInput(Step(index=0, message="view"), plain, []))
    assert first.decision == Decision.ACCEPT and first.min_logprob == pytest.approx(-0.4)
    kept = [Step(index=0, message="view")]
    second = probing.monitor.assess(MonitorInput(Step(index=1, message="edit"), invented, kept))
    assert second.decision == Decision.RESAMPLE and second.step_score > first.step_score
    # A generation without token records has nothing to score: probes say they are off.
    blank = probing.monitor.assess(MonitorInput(Step(index=2, message="x"), Generation(text="x"),
                                                kept))  # fmt: skip
    assert blank.step_score is None and "no token logprobs" in blank.reason
    # A backend that gives no logprobs at all is said up front.
    mute = FakeBackend([], model_id="test/model", capabilities=BackendCapabilities())
    off = open_probing(mute, config)
    assert off.note.startswith("probes off:") and "no token logprobs" in off.note


def test_a_hidden_state_probe_still_needs_the_layer(logprob_dataset):
    probe, _ = train_probe(logprob_dataset, "test/model", TrainOptions(inputs="hidden+baselines"))
    assert probe.needs_hidden
