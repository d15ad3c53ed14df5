"""probes.monitor and probes.probe: the decision policy, the Probe contract (trained probe
and scripted fake), feature memory across rollbacks and resumes, probes-off readings,
and how a run's probing is chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agent.backends.base import BackendCapabilities, Generation
from agent.backends.fake import FakeBackend
from agent.config import EngramConfig
from agent.monitor import AcceptAll, MonitorInput
from agent.types import Decision, Step
from probes.features import Pooling, StepFeatures
from probes.monitor import ProbeMonitor, open_probing
from probes.probe import Probe, ScriptedProbe, decide
from probes.store import ProbeStore
from probes.teacher import TeacherBackend, TeacherUnavailable, canonical_model_id
from tests.probes.conftest import PROBE_LAYER

LAYER = PROBE_LAYER


def features(value: float, dim: int = 16) -> StepFeatures:
    v = np.zeros(dim, dtype=np.float32)
    v[0] = value
    return StepFeatures(vector=v, layer=LAYER, pooling="mean", n_tokens=4)


def generation(value: float, tokens: int = 4, dim: int = 16) -> Generation:
    hidden = np.zeros((tokens, dim), dtype=np.float32)
    hidden[:, 0] = value
    return Generation(text=f"step {value}", hidden=hidden, hidden_layer=LAYER,
                      logprobs=[-0.2, -1.5, -0.1, -0.3], entropies=[0.4, 0.8, 0.2, 0.6])  # fmt: skip


def step(index: int) -> Step:
    return Step(index=index, message=f"message {index}")


# --------------------------------------------------------------------------- policy


@pytest.mark.parametrize(
    ("step_score", "prefix_score", "history", "decision"),
    [
        (0.9, 0.9, True, Decision.RESAMPLE),  # the step itself alarms first
        (0.3, 0.9, True, Decision.ROLLBACK),
        (0.3, 0.9, False, Decision.RESAMPLE),  # nothing kept yet: nothing to roll back
        (0.5, 0.5, True, Decision.ACCEPT),  # at the threshold is not above it
    ],
)
def test_decision_policy(step_score, prefix_score, history, decision):
    assert decide(step_score, prefix_score, 0.5, 0.5, history)[0] == decision


# --------------------------------------------------------------------------- contract


@pytest.fixture(params=["trained", "scripted"])
def probe(request, trained) -> Probe:
    if request.param == "trained":
        return trained
    return ScriptedProbe(layer=LAYER, pooling=Pooling())


def test_probe_contract_readings_are_complete_and_consistent(probe):
    assert isinstance(probe, Probe)
    for value in (-4.0, 0.0, 4.0):
        r = probe.score(features(value), [features(0.5), features(-0.5)])
        assert 0 <= r.step_score <= 1 and 0 <= r.prefix_score <= 1
        assert r.step_threshold is not None and r.prefix_threshold is not None
        assert r.probe_id == probe.probe_id
        expected, _ = decide(
            r.step_score, r.prefix_score, r.step_threshold, r.prefix_threshold, True
        )
        assert r.decision == expected and r.reason


def test_probe_contract_history_moves_the_prefix_not_the_step(probe):
    alone = probe.score(features(0.0), [])
    after_trouble = probe.score(features(0.0), [features(4.0)] * 3)
    assert after_trouble.step_score == alone.step_score
    assert after_trouble.prefix_score > alone.prefix_score


def test_the_trained_probe_scores_its_signal_direction_higher(trained):
    assert trained.score(features(4.0), []).step_score > trained.score(features(0.0), []).step_score


# --------------------------------------------------------------------------- monitor


def test_readings_carry_scores_thresholds_baselines_and_latency():
    monitor = ProbeMonitor(ScriptedProbe(layer=LAYER))
    r = monitor.assess(MonitorInput(step(0), generation(-3.0), []))
    assert r.decision == Decision.ACCEPT
    assert r.step_score == pytest.approx(1 / (1 + np.exp(3.0)))
    assert (r.step_threshold, r.prefix_threshold, r.probe_id) == (0.5, 0.5, "scripted")
    assert r.mean_entropy == pytest.approx(0.5) and r.min_logprob == pytest.approx(-1.5)
    assert r.latency_s > 0 and r.phase == "pre_action"


def test_an_alarming_step_is_resampled_and_a_drifting_run_rolled_back():
    monitor = ProbeMonitor(ScriptedProbe(layer=LAYER, step_threshold=0.9, prefix_threshold=0.6))
    kept: list[Step] = []
    decisions = []
    for i, value in enumerate([-2.0, 3.0, 1.5, 1.5, 1.5]):
        s = step(i)
        r = monitor.assess(MonitorInput(s, generation(value), list(kept)))
        decisions.append(r.decision)
        if r.decision == Decision.ACCEPT:
            kept.append(s)
    # 3.0: step score 0.95 > 0.9 → resample. 1.5 (0.82) passes the step threshold, but the
    # kept run's prefix (−2, 1.5, 1.5 …) climbs past 0.6 → rollback.
    assert decisions[:2] == [Decision.ACCEPT, Decision.RESAMPLE]
    assert Decision.ROLLBACK in decisions[2:]


def test_the_prefix_uses_the_features_of_the_kept_history():
    probe = ScriptedProbe(layer=LAYER)
    monitor = ProbeMonitor(probe)
    s0, s1, s2 = step(0), step(1), step(2)
    monitor.assess(MonitorInput(s0, generation(1.0), []))
    monitor.assess(MonitorInput(s1, generation(2.0), [s0]))  # then resampled: not kept
    monitor.assess(MonitorInput(s2, generation(3.0), [s0]))
    pending, history = probe.calls[-1]
    assert pending.vector[0] == 3.0 and [h.vector[0] for h in history] == [1.0]


def test_rollback_reset_and_replay_keep_only_the_surviving_steps():
    probe = ScriptedProbe(layer=LAYER)
    monitor = ProbeMonitor(probe)
    steps = [step(i) for i in range(3)]
    for i, s in enumerate(steps):
        monitor.assess(MonitorInput(s, generation(float(i + 1)), steps[:i]))
    monitor.reset()
    monitor.replay(steps[:1])  # the rollback kept step 0 only
    monitor.assess(MonitorInput(step(3), generation(0.0), steps))  # a stale history, on purpose
    _, history = probe.calls[-1]
    assert [h.vector[0] for h in history] == [1.0]


def test_a_reset_without_replay_is_a_new_run():
    probe = ScriptedProbe(layer=LAYER)
    monitor = ProbeMonitor(probe)
    s0 = step(0)
    monitor.assess(MonitorInput(s0, generation(1.0), []))
    monitor.reset()
    monitor.assess(MonitorInput(step(1), generation(0.0), [s0]))
    r_history = probe.calls[-1][1]
    assert r_history == []


def test_after_a_resume_the_reading_says_how_much_history_it_lacks():
    monitor = ProbeMonitor(ScriptedProbe(layer=LAYER))
    r = monitor.assess(MonitorInput(step(5), generation(0.0), [step(0), step(1)]))
    assert r.step_score is not None
    assert "prefix over 0 of 2 kept steps" in r.reason


@pytest.mark.parametrize(
    ("gen", "words"),
    [
        (None, "the run was resumed"),
        (Generation(text="no states", logprobs=[-0.5], entropies=[0.7]), "no hidden states"),
        (Generation(text="x", hidden=np.ones((2, 16), np.float32), hidden_layer=7), "layer 7"),
    ],
)
def test_without_usable_hidden_states_probes_are_off_and_say_why(gen, words):
    r = ProbeMonitor(ScriptedProbe(layer=LAYER)).assess(MonitorInput(step(0), gen, []))
    assert r.decision == Decision.ACCEPT
    assert r.step_score is None and r.prefix_score is None
    assert r.reason.startswith("probes off:") and words in r.reason


def test_baselines_are_reported_even_when_probes_are_off():
    monitor = ProbeMonitor(ScriptedProbe(layer=LAYER), off_reason="no teacher")
    r = monitor.assess(
        MonitorInput(step(0), Generation(text="x", logprobs=[-2.0], entropies=[1.2]), [])
    )
    assert r.reason == "probes off: no teacher"
    assert (r.mean_entropy, r.min_logprob) == (1.2, -2.0)


# --------------------------------------------------------------------------- open_probing


def test_no_trained_probe_means_accept_all_with_the_reason():
    probing = open_probing(FakeBackend([], model_id="test/model"), EngramConfig())
    assert isinstance(probing.monitor, AcceptAll) and probing.capture_layer is None
    assert "engram probes train" in probing.monitor.reason


def test_disabled_probes_accept_all():
    config = EngramConfig()
    config.probes.enabled = False
    probing = open_probing(FakeBackend([], model_id="test/model"), config)
    assert isinstance(probing.monitor, AcceptAll) and "disabled" in probing.note


def test_a_backend_with_hidden_states_gets_the_probe_and_its_layer(trained):
    ProbeStore.for_home().save(trained)
    backend = FakeBackend([], model_id="test/model",
                          capabilities=BackendCapabilities(hidden_states=True))  # fmt: skip
    config = EngramConfig()
    config.probes.layer = 9
    probing = open_probing(backend, config)
    assert isinstance(probing.monitor, ProbeMonitor) and probing.capture_layer == LAYER
    assert probing.backend is backend and "probes.layer = 9 ignored" in probing.note


def test_without_hidden_states_or_teacher_the_run_says_probes_are_off(trained):
    ProbeStore.for_home().save(trained)
    config = EngramConfig()
    config.model.name = "no-such-model-anywhere"
    probing = open_probing(FakeBackend(["reply"], model_id="test/model"), config)
    assert probing.note.startswith("probes off:") and "no teacher" in probing.note
    r = probing.monitor.assess(MonitorInput(step(0), Generation(text="reply"), []))
    assert r.step_score is None and r.reason.startswith("probes off:")


# --------------------------------------------------------------------------- teacher (logic)


class RecordingTeacher:
    """Stands in for the in-process model (the real one: tests/probes/test_real_model.py)."""

    def __init__(self, model_id: str = "test/model", fail: bool = False):
        self.model_id = model_id
        self.fail = fail
        self.calls: list[tuple] = []
        self.adapters: list[str] = []

    def replay(self, messages, completion, tools=None, adapter=None, capture_layer=None):
        self.calls.append((messages, completion, adapter, capture_layer))
        if self.fail:
            raise RuntimeError("out of memory")
        return Generation(text=completion, hidden=np.ones((3, 4), np.float32),
                          hidden_layer=capture_layer, logprobs=[-1.0] * 3, entropies=[0.5] * 3)  # fmt: skip

    def load_adapter(self, name, path):
        self.adapters.append(name)

    def unload_adapter(self, name):
        self.adapters.remove(name)


def _options(layer=LAYER):
    from agent.backends.base import GenerationOptions

    return GenerationOptions(capture_layer=layer)


def test_the_teacher_fills_hidden_states_for_the_generated_text():
    teacher = RecordingTeacher()
    backend = TeacherBackend(FakeBackend(["the reply"], model_id="test/model"), teacher)
    backend.load_adapter("repo", Path("/nowhere"))
    gen = backend.generate([], adapter="repo", options=_options())
    assert backend.capabilities.hidden_states
    assert gen.text == "the reply" and gen.hidden.shape == (3, 4) and gen.hidden_layer == LAYER
    assert teacher.calls[0][1:] == ("the reply", "repo", LAYER)


def test_no_capture_layer_means_no_teacher_pass():
    teacher = RecordingTeacher()
    TeacherBackend(FakeBackend(["x"], model_id="test/model"), teacher).generate([])
    assert teacher.calls == []


def test_a_failing_teacher_loses_the_features_not_the_step():
    backend = TeacherBackend(FakeBackend(["x"], model_id="test/model"), RecordingTeacher(fail=True))
    gen = backend.generate([], options=_options())
    assert gen.text == "x" and gen.hidden is None
    assert "out of memory" in backend.last_error


def test_a_teacher_of_another_model_is_refused():
    with pytest.raises(TeacherUnavailable, match="meaningless"):
        TeacherBackend(FakeBackend([], model_id="test/model"), RecordingTeacher("other/model"))


def test_registry_names_and_hub_ids_are_one_model():
    assert canonical_model_id("qwen2.5-coder-0.5b-instruct") == "Qwen/Qwen2.5-Coder-0.5B-Instruct"
    assert canonical_model_id("Org/Model") == "Org/Model"


def test_a_probe_of_another_hidden_size_turns_probes_off_instead_of_failing(trained):
    monitor = ProbeMonitor(trained)
    r = monitor.assess(MonitorInput(step(0), generation(1.0, dim=32), []))
    assert r.decision == Decision.ACCEPT and r.step_score is None
    assert "cannot score" in r.reason


def test_a_probe_of_another_build_of_the_model_is_not_used(trained):
    ProbeStore.for_home().save(trained.__class__(
        trained.card.model_copy(update={"model_sha256": "a" * 64}), trained.step, trained.prefix))  # fmt: skip
    backend = FakeBackend([], model_id="test/model",
                          capabilities=BackendCapabilities(hidden_states=True))  # fmt: skip
    backend.model_sha256 = "b" * 64
    probing = open_probing(backend, EngramConfig())
    assert isinstance(probing.monitor, AcceptAll) and "another build" in probing.note
