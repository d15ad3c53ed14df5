"""`learn` on the real embedded model: a few LoRA steps, the real evaluators, the real store.

Kept short (one optimizer step, one held-out window per file, no HumanEval): the point
is that the whole path runs on the real model — load, demonstrations from real runs,
replay, training, proposal, held-out action loss and code loss, the gate — not the
size of the effect.
"""

from __future__ import annotations

import pytest

from agent.config import EngramConfig
from agent.types import AdapterStatus
from memory.adapter_store import FileAdapterStore
from memory.learn import learn
from memory.self_edit_store import SelfEditStore
from tests.memory.learn_setup import make_setup
from tests.memory.runs import retold, stored_runs, write_runs

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_learn_on_the_embedded_model(tmp_path, embedded_model_dir, monkeypatch):
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("ENGRAM_MODELS", str(embedded_model_dir.parents[1]))
    s = make_setup(tmp_path)
    # A third verified run (another task) so that one demonstration is held out.
    write_runs(s.home.runs, [retold(stored_runs()[0], s.repo_id, "third", "t3")])
    config = EngramConfig()
    lines: list[str] = []
    result = learn(s.repo, s.home, config, notes=False, humaneval_n=0,
                   trainer={"max_steps": 1, "max_seq_len": 1024},
                   evaluation={"heldout_windows": 1, "qa": False},
                   progress=lines.append)  # fmt: skip
    assert result is not None, lines
    assert result.status in (AdapterStatus.CURRENT, AdapterStatus.REJECTED)
    m = result.metrics
    for key in ("repo_action_loss", "incumbent_repo_action_loss", "heldout_loss",
                "incumbent_heldout_loss", "train_seconds", "peak_rss_mb"):  # fmt: skip
        assert key in m, (key, m)
    assert m["train_steps"] == 1
    assert 0.0 < m["repo_action_loss"] < 10 and 0.5 < m["heldout_loss"] < 3
    assert len(SelfEditStore(s.home).entries(s.repo_id, "heldout")) == 1
    assert (
        result.base_model_hash == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    )
    store = FileAdapterStore(s.home.adapters)
    assert (store.version_path(s.repo_id, 1) / "adapter_model.safetensors").is_file()
