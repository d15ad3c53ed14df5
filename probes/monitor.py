"""`ProbeMonitor`: the probes as the graph's `agent.monitor.Monitor`.

Before every step runs, it pools the proposed step's hidden states and asks the probe:
step score > step threshold → RESAMPLE; prefix score (over the kept steps so far *and*
the proposed one) > prefix threshold → ROLLBACK; otherwise ACCEPT (probes.probe.decide).
Every reading carries both scores, both thresholds, the baselines (mean entropy, min
logprob), the probe id and the latency.

Features of kept steps are remembered by step (index + message hash), because hidden
states are not persisted: the prefix state is recomputed from the history the graph
passes in, so a rollback — which shortens that history — needs no special handling.
After a resume in a new process the earlier steps' features are gone; the prefix then
covers the steps it has and the reading says how many it lacked.

A probe trained on token statistics only (`inputs` = baselines) needs no hidden states:
its steps are the two statistics every backend with logprobs returns, so no layer is
captured and no teacher is opened.

Where a generation has no hidden states of the probe's layer (a backend without them
and no teacher, a resumed step), the reading has no scores, decision ACCEPT, and the
reason "probes off: …".

`open_probing` picks the monitor for a run: the probe stored for the backend's model,
a teacher for backends without hidden states, or `AcceptAll` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agent.monitor import AcceptAll, Monitor, MonitorInput
from agent.types import Decision, ProbeReading, Step
from probes.features import (
    NoFeatures,
    StepFeatures,
    baselines,
    step_features,
    step_key,
    token_features,
)
from probes.probe import Probe

if TYPE_CHECKING:  # pragma: no cover
    from agent.backends.base import LLMBackend
    from agent.config import EngramConfig
    from agent.home import Home


class ProbeMonitor:
    name = "probe"

    def __init__(self, probe: Probe, *, off_reason: str | None = None):
        self.probe = probe
        self.off_reason = off_reason  # set: probes cannot run at all for this backend
        self._features: dict[str, StepFeatures] = {}
        self._stash: dict[str, StepFeatures] | None = None

    @property
    def layer(self) -> int:
        return self.probe.layer

    def _off(self, item: MonitorInput, why: str) -> ProbeReading:
        mean_entropy = min_logprob = None
        if item.generation is not None:
            mean_entropy, min_logprob = baselines(item.generation)
        return ProbeReading(
            decision=Decision.ACCEPT, reason=f"probes off: {why}", probe_id=self.probe.probe_id,
            mean_entropy=mean_entropy, min_logprob=min_logprob,
        )  # fmt: skip

    def assess(self, item: MonitorInput) -> ProbeReading:
        started = time.perf_counter()
        self._stash = None  # a reset not followed by replay: a new run, old features are stale
        if self.off_reason is not None:
            reading = self._off(item, self.off_reason)
        elif item.generation is None:
            reading = self._off(item, "no generation for this step (the run was resumed)")
        else:
            try:
                featurize = step_features if self.probe.needs_hidden else token_features
                pending = featurize(item.generation, self.probe.layer, self.probe.pooling)
            except NoFeatures as exc:
                reading = self._off(item, str(exc))
            else:
                self._features[step_key(item.step)] = pending
                history = [f for s in item.history if (f := self._features.get(step_key(s)))]
                try:
                    reading = self.probe.score(pending, history)
                except ValueError as exc:
                    # E.g. a probe of another hidden size: probes go off, the run goes on.
                    reading = self._off(item, f"the probe cannot score these features ({exc})")
                lacking = len(item.history) - len(history)
                if lacking and reading.step_score is not None:
                    reading.reason += (
                        f" (prefix over {len(history)} of {len(item.history)} kept steps: "
                        f"{lacking} have no features in this process)"
                    )
        reading.latency_s = time.perf_counter() - started
        return reading

    def reset(self) -> None:
        self._stash, self._features = self._features, {}

    def replay(self, history: Sequence[Step]) -> None:
        source = self._stash if self._stash is not None else self._features
        self._features = {k: source[k] for s in history if (k := step_key(s)) in source}
        self._stash = None


@dataclass
class Probing:
    """What a run uses for probes: the backend to generate with (wrapped with a teacher
    where needed), the monitor, the layer to capture, and one sentence for the user."""

    backend: LLMBackend
    monitor: Monitor
    capture_layer: int | None
    note: str


def open_probing(backend: LLMBackend, config: EngramConfig, home: Home | None = None) -> Probing:
    from probes.store import ProbeStore
    from probes.teacher import TeacherBackend, TeacherUnavailable, canonical_model_id, open_teacher

    if not config.probes.enabled:
        reason = "probes are disabled (probes.enabled = false)"
        return Probing(backend, AcceptAll(reason), None, reason)
    model_id = canonical_model_id(backend.model_id)
    probe = ProbeStore.for_home(home).load(model_id)
    if probe is None:
        reason = (f"no probe is trained for {model_id} yet: collect runs, then "
                  "`engram probes train`")  # fmt: skip
        return Probing(backend, AcceptAll(reason), None, reason)
    backend_sha = getattr(backend, "model_sha256", None)
    if probe.card.model_sha256 and backend_sha and probe.card.model_sha256 != backend_sha:
        reason = (f"the probe for {model_id} was trained on another build of it (sha256 "
                  f"{probe.card.model_sha256[:12]}…, this one {backend_sha[:12]}…): retrain it")  # fmt: skip
        return Probing(backend, AcceptAll(reason), None, reason)
    if not probe.needs_hidden:
        # Token statistics come with every generation: no layer to capture, no teacher.
        if not backend.capabilities.logprobs:
            reason = f"{backend.name} gives no token logprobs, which probe {probe.probe_id} reads"
            return Probing(
                backend, ProbeMonitor(probe, off_reason=reason), None, f"probes off: {reason}"
            )
        note = f"probe {probe.probe_id} on token statistics (no hidden states captured)"
        return Probing(backend, ProbeMonitor(probe), None, note)
    layer = probe.layer
    note = f"probe {probe.probe_id} on layer {layer}"
    if config.probes.layer is not None and config.probes.layer != layer:
        note += f" (probes.layer = {config.probes.layer} ignored: the probe was trained on {layer})"
    if backend.capabilities.hidden_states:
        return Probing(backend, ProbeMonitor(probe), layer, note)
    try:
        teacher = open_teacher(config.model, home)
        wrapped = TeacherBackend(backend, teacher)
    except TeacherUnavailable as exc:
        reason = f"{backend.name} gives no hidden states and no teacher model is available ({exc})"
        return Probing(
            backend, ProbeMonitor(probe, off_reason=reason), None, f"probes off: {reason}"
        )
    return Probing(wrapped, ProbeMonitor(probe), layer, f"{note}, hidden states by teacher forcing")
