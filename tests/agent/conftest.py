"""Session fixtures for backend and serve tests: one loaded model, two small random
LoRA adapters of it, and one real `engram serve` on a loopback port.

Everything here is real: the embedded model, PEFT adapters saved in PEFT's layout, and
a server process started from the CLI. Missing pieces fail (never skip) with the fix.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

SERVED_NAME = "engram-test"
ADAPTER_NAMES = ("alpha", "beta")


@pytest.fixture(scope="session")
def hf_backend(embedded_model_dir):
    from agent.backends.hf import HFBackend

    backend = HFBackend(str(embedded_model_dir))
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def llamacpp_backend(embedded_model_dir):
    """The embedded model's GGUF through llama.cpp (the GGUF next to the converted folder).
    Threads follow ENGRAM_MODEL__THREADS (the machine is shared: 1 keeps tests polite)."""
    from agent.backends.llamacpp import LlamaCppBackend

    threads = int(os.environ.get("ENGRAM_MODEL__THREADS", "0"))
    backend = LlamaCppBackend(str(embedded_model_dir), threads=threads, context_tokens=4096)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def llamacpp_merged_backend(embedded_model_dir):
    """The llamacpp backend in `merged` adapter mode: each adapter is merged into a model
    of its own (built once per adapter, next to it)."""
    from agent.backends.llamacpp import LlamaCppBackend

    threads = int(os.environ.get("ENGRAM_MODEL__THREADS", "0"))
    backend = LlamaCppBackend(str(embedded_model_dir), threads=threads, context_tokens=4096,
                              adapter_mode="merged")  # fmt: skip
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def lora_adapters(tmp_path_factory, embedded_model_dir) -> dict[str, Path]:
    """Two LoRA adapters of the embedded model with random (not zero) B matrices, so each
    visibly changes the output and the two differ from each other."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("adapters")
    base = AutoModelForCausalLM.from_pretrained(str(embedded_model_dir), dtype=torch.bfloat16)
    paths = {}
    with torch.random.fork_rng():
        for seed, name in enumerate(ADAPTER_NAMES, start=1):
            torch.manual_seed(seed)
            config = LoraConfig(
                r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                init_lora_weights=False, task_type="CAUSAL_LM",
            )  # fmt: skip
            peft_model = get_peft_model(base, config)
            peft_model.save_pretrained(out / name)
            base = peft_model.unload()
            paths[name] = out / name
    del base
    return paths


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def engram_server(tmp_path_factory, embedded_model_dir) -> str:
    """Base URL (…/v1) of a real `engram serve` started from the CLI for this session."""
    port = _free_port()
    home = tmp_path_factory.mktemp("serve-home")
    log_path = home / "serve.log"
    models = embedded_model_dir.parents[1]  # <models>/<name>/hf
    # Runtime adapters: the contract's two test adapters are switched per request; merged
    # mode (a model build per adapter) is covered by the `llamacpp_merged` backend.
    env = {**os.environ, "ENGRAM_HOME": str(home), "ENGRAM_MODELS": str(models),
           "HF_HUB_OFFLINE": "1", "ENGRAM_MODEL__ADAPTER_MODE": "runtime"}  # fmt: skip
    cmd = [
        sys.executable, "-c", "from agent.cli.main import main; main()", "serve",
        "--model", str(embedded_model_dir), "--served-model-name", SERVED_NAME,
        "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"engram serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"engram serve did not answer in 180 s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.5)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def openai_backend(engram_server):
    from agent.backends.openai import OpenAIBackend

    backend = OpenAIBackend(engram_server, SERVED_NAME)
    yield backend
    backend.close()
