"""`learn` end to end on a tiny in-process model with fake evaluators."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.types import AdapterStatus
from memory.adapter_store import FileAdapterStore
from memory.base import StoreBusy
from memory.gate import GeneralScores
from memory.learn import INTERRUPTED, learn, waiting_runs
from memory.self_edit_store import SelfEditStore
from tests.memory.learn_setup import TRAINER, FakeEvaluators, make_setup, tiny_lm
from tests.memory.runs import for_repo, stored_runs, write_runs

ROOT = Path(__file__).resolve().parents[2]


def run_learn(s, lm=None, evaluators=None, **kw):
    return learn(s.repo, s.home, s.config, lm=lm or tiny_lm(), notes=False, trainer=TRAINER,
                 evaluators=evaluators or FakeEvaluators(), **kw)  # fmt: skip


def test_promotes_a_better_candidate_and_records_everything(tmp_path):
    s = make_setup(tmp_path)
    messages: list[str] = []
    result = run_learn(s, progress=messages.append)
    assert result is not None and result.version == 1
    assert result.status == AdapterStatus.CURRENT
    edits = SelfEditStore(s.home).list(s.repo_id)
    assert len(edits) == 2 and sorted(e.id for e in edits) == result.self_edit_hashes
    m = result.metrics
    assert m["repo_action_loss"] == 0.5 and m["incumbent_repo_action_loss"] == 1.0
    assert m["train_steps"] == 2 and m["train_seconds"] > 0 and m["replay_examples"] >= 1
    assert "accepted: held-out action loss 1.000 → 0.500" in result.notes
    assert any(line.startswith("train step 2/2") for line in messages)
    assert FileAdapterStore(s.home.adapters).current(s.repo_id).version == 1
    assert waiting_runs(s.home, s.repo_id) == 0


def test_nothing_new_returns_none(tmp_path):
    s = make_setup(tmp_path)
    assert run_learn(s) is not None
    assert run_learn(s) is None


def test_no_runs_returns_none_without_loading_a_model(tmp_path):
    s = make_setup(tmp_path, runs=0)
    assert learn(s.repo, s.home, s.config, lm=None, notes=False) is None


def test_rejects_a_candidate_that_forgets(tmp_path):
    s = make_setup(tmp_path)
    worse = FakeEvaluators(adapter_general=GeneralScores(humaneval_pass_at_1=0.25,
                                                         heldout_loss=1.0))  # fmt: skip
    result = run_learn(s, evaluators=worse)
    assert result.status == AdapterStatus.REJECTED
    assert "HumanEval pass@1 fell 0.500 → 0.250" in result.notes
    assert result.metrics["humaneval_pass@1"] == 0.25
    store = FileAdapterStore(s.home.adapters)
    assert store.current(s.repo_id) is None
    # the rejected version's edits count as tried: nothing new until a new run arrives
    assert run_learn(s) is None


def test_merge_adds_a_delta_to_the_current_adapter(tmp_path):
    s = make_setup(tmp_path, runs=1)
    first = run_learn(s)
    assert first.status == AdapterStatus.CURRENT and first.hyperparameters.lora_rank == 16
    write_runs(s.home.runs, [for_repo(stored_runs()[1], s.repo_id)])
    second = run_learn(s, method="merge")
    assert second.method == "merge" and second.parent == 1
    assert second.hyperparameters.lora_rank == 32  # cat: ranks add up
    assert len(second.self_edit_hashes) == 1  # only the new edit was trained
    config = json.loads((FileAdapterStore(s.home.adapters).version_path(s.repo_id, 2)
                         / "adapter_config.json").read_text())  # fmt: skip
    assert config["r"] == 32


def test_bootstrap_runs_only_with_the_flag(tmp_path):
    s = make_setup(tmp_path, runs=1)
    boot = for_repo(stored_runs()[1], s.repo_id, run_id="boot-1", source="bootstrap")
    write_runs(s.home.runs, [boot])
    assert waiting_runs(s.home, s.repo_id) == 1
    assert waiting_runs(s.home, s.repo_id, bootstrap=True) == 2
    plain = run_learn(s)
    assert plain.metrics["bootstrap_edits"] == 0 and len(plain.self_edit_hashes) == 1
    with_boot = run_learn(s, bootstrap=True)
    assert with_boot.metrics["bootstrap_edits"] == 1
    assert "1 bootstrap demonstrations" in with_boot.notes


def test_second_learn_on_a_busy_repo_says_so(tmp_path):
    s = make_setup(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from pathlib import Path
            from memory.adapter_store import FileAdapterStore
            with FileAdapterStore(Path({str(s.home.adapters)!r})).lock({s.repo_id!r}):
                print("locked", flush=True)
                time.sleep(60)
        """)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreBusy, match=f"pid {holder.pid}"):
            run_learn(s, lock_timeout=0)
    finally:
        holder.kill()
        holder.wait()
    assert run_learn(s, lock_timeout=5).version == 1


KILLER = """
import os, signal, sys
from pathlib import Path
from agent.config import EngramConfig
from agent.home import Home
from memory.learn import learn
from tests.memory.learn_setup import TRAINER, FakeEvaluators, tiny_lm

repo, home, when = Path(sys.argv[1]), Home(Path(sys.argv[2])), sys.argv[3]

def progress(message):
    if message.startswith(when):
        os.kill(os.getpid(), signal.SIGKILL)

learn(repo, home, EngramConfig(), lm=tiny_lm(), notes=False, trainer=TRAINER,
      evaluators=FakeEvaluators(), progress=progress)
"""


@pytest.mark.parametrize("when", ["train step 1/", "candidate v1 trained"])
def test_sigkill_mid_learn_leaves_no_current_version_and_loses_no_edit(tmp_path, when):
    s = make_setup(tmp_path)
    child = subprocess.run([sys.executable, "-c", KILLER, str(s.repo), str(s.home.root), when],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert child.returncode == -signal.SIGKILL, child.stderr
    store = FileAdapterStore(s.home.adapters)
    assert store.current(s.repo_id) is None
    versions = store.list(s.repo_id)
    if when.startswith("train"):
        assert versions == []  # the half-trained adapter is nowhere visible
    else:
        assert [v.status for v in versions] == [AdapterStatus.CANDIDATE]
    assert len(SelfEditStore(s.home).list(s.repo_id)) == 2  # stored before training
    result = run_learn(s)
    assert result.status == AdapterStatus.CURRENT and len(result.self_edit_hashes) == 2
    for folder in (store.repo_dir(s.repo_id), s.home.repo_dir(s.repo_id) / "training"):
        assert [p for p in folder.iterdir() if p.name.endswith(".partial")] == []
    if not when.startswith("train"):
        first = store.get(s.repo_id, 1)
        assert first.status == AdapterStatus.REJECTED and INTERRUPTED in first.notes
        assert result.version == 2


def test_not_a_git_repo_is_a_clear_error(tmp_path):
    from sandboxes.repo import RepoError

    s = make_setup(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(RepoError, match="not a git repository"):
        learn(plain, s.home, s.config, lm=tiny_lm(), notes=False)
    assert os.listdir(plain) == []
