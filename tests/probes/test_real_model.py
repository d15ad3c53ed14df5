"""Probes on the real embedded model: features from the `hf` backend's own capture, the
same features by teacher forcing, and a collected run written as a dataset shard with
labels from the example repository."""

from __future__ import annotations

import numpy as np
import pytest

from agent.backends.base import GenerationOptions
from agent.backends.fake import FakeBackend
from agent.monitor import AcceptAll, MonitorInput
from agent.types import ChatMessage, Observation, Step, Task, ToolCall, Trajectory, Verification
from probes.collect import RecordingMonitor, rows_from_trajectory
from probes.dataset import Dataset, write_shard
from probes.features import DATASET_POOLINGS, Pooling, default_layer, step_features
from probes.labels import HALLUCINATED, Labeler
from probes.teacher import TeacherBackend
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.model

LEDGER = REPO_ROOT / "examples" / "ledger"
MESSAGES = [
    ChatMessage(role="system", content="You are a coding agent working in a Python repository."),
    ChatMessage(role="user", content="Which file of the ledger package parses money amounts?"),
]


@pytest.fixture(scope="module")
def hf(embedded_model_dir):
    from agent.backends.hf import HFBackend

    backend = HFBackend(str(embedded_model_dir))
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def layer(hf) -> int:
    assert hf.num_layers == 24
    return default_layer(hf.num_layers)


@pytest.fixture(scope="module")
def generation(hf, layer):
    return hf.generate(MESSAGES, options=GenerationOptions(max_new_tokens=12, capture_layer=layer))


def test_the_hf_backend_gives_features_of_the_default_layer(generation, layer, hf):
    assert layer == 16
    f = step_features(generation, layer, Pooling())
    assert f.vector.shape == (hf.hidden_size,) == (896,)
    assert np.isfinite(f.vector).all() and np.linalg.norm(f.vector) > 0
    assert f.n_tokens == len(generation.logprobs) == len(generation.entropies)
    assert f.mean_entropy is not None and f.min_logprob is not None and f.min_logprob <= 0


def test_teacher_forcing_gives_the_same_features_as_the_generation(hf, generation, layer):
    # A server backend returns only text: the in-process model recovers its states.
    server = FakeBackend([generation.text], model_id=hf.model_id)
    taught = TeacherBackend(server, hf).generate(
        MESSAGES, options=GenerationOptions(capture_layer=layer)
    )
    assert taught.text == generation.text and taught.hidden_layer == layer
    for pooling in DATASET_POOLINGS:
        own = step_features(generation, layer, pooling).vector
        forced = step_features(taught, layer, pooling).vector
        cos = float(own @ forced / (np.linalg.norm(own) * np.linalg.norm(forced)))
        assert cos > 0.99, pooling.name


def test_a_collected_run_becomes_a_labelled_shard(hf, generation, layer, tmp_path):
    from tools.index import SymbolIndex

    recorder = RecordingMonitor(AcceptAll(), layer=layer)
    grounded = Step(index=0, message=generation.text, thought=generation.text,
                    action=ToolCall(name="view", arguments={"path": "src/ledger/money.py"}),
                    observation=Observation(text="1 ..."))  # fmt: skip
    recorder.assess(MonitorInput(grounded, generation, []))
    second = hf.generate(
        [*MESSAGES, ChatMessage(role="assistant", content=generation.text),
         ChatMessage(role="user", content="Open src/ledger/currency.py.")],
        options=GenerationOptions(max_new_tokens=8, capture_layer=layer),
    )  # fmt: skip
    invented = Step(index=1, message=second.text, thought="Open the currency module.",
                    action=ToolCall(name="view", arguments={"path": "src/ledger/currency.py"}),
                    observation=Observation(text="does not exist", ok=False, error_kind="not_found"))  # fmt: skip
    recorder.assess(MonitorInput(invented, second, [grounded]))
    trajectory = Trajectory(
        run_id="real-1", task=Task(id="t", repo=str(LEDGER), problem_statement="Explain."),
        repo_id="ledger", model_id=hf.model_id, backend="hf", steps=[grounded, invented],
        verification=Verification(command="pytest", passed=False),
    )  # fmt: skip
    shard = rows_from_trajectory(
        trajectory, recorder.records, Labeler(SymbolIndex.build(LEDGER)), layer
    )
    write_shard(tmp_path, shard)
    data = Dataset.load(tmp_path)
    assert data.layer == layer and data.features(Pooling().name).shape == (2, 896)
    assert data.rows[1].label == HALLUCINATED and data.rows[1].history == [0]
    assert set(data.poolings) == {p.name for p in DATASET_POOLINGS}
