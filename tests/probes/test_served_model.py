"""Probes for a backend without hidden states, end to end: a real `engram serve` (an
OpenAI-compatible server, as vLLM would be) answers through the `openai` backend, and
`open_probing` gives the run a teacher — the same model in this process — so the probe
scores every step."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from agent.backends.base import GenerationOptions
from agent.config import EngramConfig
from agent.monitor import MonitorInput
from agent.types import ChatMessage, Step
from probes.dataset import Dataset, Shard, StepRow, write_shard
from probes.monitor import ProbeMonitor, open_probing
from probes.store import ProbeStore
from probes.teacher import TeacherBackend
from probes.training import TrainOptions, train_probe

pytestmark = [pytest.mark.model, pytest.mark.slow]

MESSAGES = [ChatMessage(role="user", content="Name one Python test runner.")]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedded_model_dir):
    """A real `engram serve` of the embedded model under its own model id."""
    from agent.models.loader import resolve_model

    model_id = resolve_model(str(embedded_model_dir), embedded_model_dir.parent).model_id
    port = _free_port()
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "ENGRAM_HOME": str(log_path.parent), "HF_HUB_OFFLINE": "1",
           "ENGRAM_MODELS": str(embedded_model_dir.parents[1])}  # fmt: skip
    cmd = [sys.executable, "-c", "from agent.cli.main import main; main()", "serve", "--model",
           str(embedded_model_dir), "--served-model-name", model_id, "--port", str(port),
           "--log-level", "warning"]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            if proc.poll() is not None:
                pytest.fail(f"engram serve exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"engram serve did not answer in 240 s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield f"{url}/v1", model_id
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _store_probe(model_id: str, layer: int, hidden: int, tmp_path) -> None:
    """A probe of the model's hidden size (trained on synthetic features: the test is about
    the plumbing, not what the probe learned)."""
    rng = np.random.default_rng(0)
    for r in range(12):
        bad = (np.arange(6) == 3).astype(int) if r % 2 else np.zeros(6, int)
        x = rng.normal(size=(6, hidden)) + 3.0 * np.outer(bad, np.eye(hidden)[0])
        rows = [StepRow(run_id=f"r{r}", position=i, step_index=i, label=int(bad[i]),
                        run_verified=True, history=list(range(i))) for i in range(6)]  # fmt: skip
        write_shard(tmp_path, Shard(
            run_id=f"r{r}", model_id=model_id, layer=layer, rows=rows,
            pooled={"exp:0.25": x.astype(np.float32)}, mean_entropy=np.ones(6, np.float32),
            min_logprob=-np.ones(6, np.float32), n_tokens=np.full(6, 8, np.int32),
        ))  # fmt: skip
    probe, _ = train_probe(Dataset.load(tmp_path), model_id, TrainOptions(l2=1.0))
    ProbeStore.for_home().save(probe)


def test_a_served_model_is_probed_through_a_teacher(served, embedded_model_dir, tmp_path):
    from agent.backends.openai import OpenAIBackend

    url, model_id = served
    _store_probe(model_id, layer=16, hidden=896, tmp_path=tmp_path)
    backend = OpenAIBackend(url, model_id)
    assert not backend.capabilities.hidden_states
    config = EngramConfig()
    config.model.name = str(embedded_model_dir)
    probing = open_probing(backend, config)
    try:
        assert isinstance(probing.backend, TeacherBackend)
        assert isinstance(probing.monitor, ProbeMonitor) and probing.capture_layer == 16
        assert "teacher forcing" in probing.note
        gen = probing.backend.generate(
            MESSAGES, options=GenerationOptions(max_new_tokens=8, capture_layer=16)
        )
        assert gen.text and gen.hidden.shape[1] == 896 and gen.hidden_layer == 16
        reading = probing.monitor.assess(MonitorInput(Step(index=0, message=gen.text), gen, []))
        assert 0 <= reading.step_score <= 1 and 0 <= reading.prefix_score <= 1
        assert reading.decision is not None and not reading.reason.startswith("probes off")
    finally:
        probing.backend.close()
