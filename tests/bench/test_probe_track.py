"""The probe track end to end: a probe trained on synthetic features is stored for a
scripted model whose generations carry hidden states; the same tasks run with probes
on and off (real graph, tools, grader, local sandbox); features are recorded, labelled
from the repository and scored; the report shows the A/B and the ROC."""

from __future__ import annotations

import json

import numpy as np
import pytest

from agent.backends.base import BackendCapabilities, Generation
from agent.backends.fake import FakeBackend
from agent.config import load_config
from agent.home import Home
from bench.oracle import oracle_replies
from bench.report.render import render_report
from bench.session import start_session
from bench.tracks.probe import probe_metrics, roc_points
from tests.bench.taskset import make_tasks, task_file
from tests.probes.synthetic import DIM, write_dataset

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sandboxes.local.LocalSandboxWarning"),
]
LAYER = 2
MODEL = "fake-model"


def hidden(value: float) -> np.ndarray:
    states = np.zeros((6, DIM), dtype=np.float32)
    states[:, 0] = value
    return states


def scripted(tasks):
    """Replies by kept step: an invented file first (its states look hallucinated), then
    the real one, the fix, submit. A resampled step is asked again and moves on."""
    fixes = {t.problem_statement: oracle_replies(t)[0] for t in tasks}
    last: dict[str, str] = {}
    invented = "The converter.\n```view\npath: lib/convert/units.py\n```"

    def reply(messages, options):
        statement = next(s for s in fixes if any(s in m.content for m in messages))
        said = "".join(m.content for m in messages if m.role == "assistant")
        if not said and last.get(statement) != invented:  # a run's first reply
            text, value = invented, 3.0
        elif "core.py\n```" not in said:
            text, value = "The code.\n```view\npath: src/stats/core.py\n```", -3.0
        elif "Done" not in said:
            text, value = fixes[statement].replace("I apply", "Done: I apply"), -3.0
        else:
            text, value = "```submit\n```", -3.0
        last[statement] = text
        return Generation(text=text, hidden=hidden(value), hidden_layer=LAYER,
                          logprobs=[-0.2] * 6, entropies=[0.5 + max(0.0, value) / 3] * 6)  # fmt: skip

    return reply


@pytest.fixture
def probed_run(stats_repo, tmp_path):
    from probes.dataset import Dataset
    from probes.store import ProbeStore
    from probes.training import TrainOptions, train_probe

    home = Home.resolve()
    home.ensure()
    store = ProbeStore.for_home(home)
    write_dataset(store.data_dir(MODEL), runs=40, seed=0, model_id=MODEL, layer=LAYER)
    probe, _ = train_probe(Dataset.load(store.data_dir(MODEL)), MODEL, TrainOptions(seed=0))
    store.save(probe)
    before = _files(store.data_dir(MODEL))
    tasks = make_tasks(stats_repo, home, ["mean", "sorted"])
    config = load_config(flags={"sandbox.kind": "local", "agent.max_steps": 6,
                                "agent.repo_map_tokens": 0}).config  # fmt: skip
    session = start_session(home, task_file(tmp_path / "t.jsonl", tasks), config,
                            tracks=["probe"], name="probe", command=["engram"])  # fmt: skip
    caps = BackendCapabilities(hidden_states=True, logprobs=True, adapters=True)
    script = scripted(tasks)
    backend = FakeBackend([script] * 200, model_id=MODEL, capabilities=caps)
    session.backend_factory = lambda cfg, h: backend
    session.run_tracks()
    return session, render_report(session.run_dir), before, _files(store.data_dir(MODEL))


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_both_arms_run_the_same_tasks_with_the_same_seeds(probed_run):
    session, *_ = probed_run
    arms = {}
    for arm in ("on", "off"):
        folder = session.run_dir / "probe" / arm / "tasks"
        arms[arm] = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
    assert set(arms["on"]) == set(arms["off"]) == set(session.manifest.task_ids)
    assert {i: r["seed"] for i, r in arms["on"].items()} == {
        i: r["seed"] for i, r in arms["off"].items()}  # fmt: skip
    assert all(r["status"] == "resolved" for a in arms.values() for r in a.values())
    # Only the probe arm drops the invented step before it runs.
    assert sum(r["resampled"] for r in arms["on"].values()) == 2
    assert sum(r["resampled"] for r in arms["off"].values()) == 0


def test_features_are_recorded_labelled_and_scored(probed_run):
    session, report, before, after = probed_run
    metrics = json.loads((session.run_dir / "probe" / "metrics.json").read_text())
    this = metrics["this_run"]
    assert this["all"]["hallucinated"] >= 2 and this["all"]["clean"] > 0
    assert set(this["by_arm"]) == {"on", "off"}
    assert this["roc"]["step probe"]["auroc"] == pytest.approx(1.0)
    assert metrics["probe_dataset"]["runs"] > 0  # the probe's own unseen runs
    assert after == before  # the run's features stay in the run, not in the probe's dataset
    shards = list((session.run_dir / "probe" / "dataset").glob("*.jsonl"))
    assert len(shards) == 4
    text = report.markdown.read_text()
    assert "## probe" in text and "step AUROC" in text
    assert (report.directory / "probe_roc.png").read_bytes()[:4] == b"\x89PNG"
    assert (report.directory / "probe_ab.png").is_file()


def test_a_run_both_arms_made_alike_counts_once_over_both_arms(probed_run, tmp_path):
    from probes.dataset import read_shard, write_shard
    from probes.store import ProbeStore

    session, *_ = probed_run
    probe = ProbeStore.for_home(session.home).load(MODEL)
    source = session.run_dir / "probe" / "dataset"
    on_runs = {json.loads(p.read_text())["run_id"]
               for p in (session.run_dir / "probe" / "on" / "tasks").glob("*.json")}  # fmt: skip
    shards = [read_shard(p) for p in sorted(source.glob("*.jsonl"))]
    shards = [s for s in shards if s.run_id in on_runs]
    assert len(shards) == 2
    data = tmp_path / "dataset"
    arm_of_run = {}
    for shard in shards:  # one arm's runs, then the same runs again as the other arm's
        write_shard(data, shard)
        arm_of_run[shard.run_id] = "on"
        twin = shard.run_id + "-off"
        shard.run_id = twin
        shard.rows = [row.model_copy(update={"run_id": twin}) for row in shard.rows]
        write_shard(data, shard)
        arm_of_run[twin] = "off"
    metrics = probe_metrics(probe, data, arm_of_run)
    assert metrics["repeats"] == len(shards)
    assert (
        metrics["all"]["steps"]
        == metrics["by_arm"]["on"]["steps"]
        == metrics["by_arm"]["off"]["steps"]
    )
    assert metrics["roc"]["step probe"]["positives"] == metrics["all"]["hallucinated"]


def test_roc_points_match_hand_computed_values():
    curve = roc_points([0.9, 0.8, 0.8, 0.1, float("nan")], [1, 1, 0, 0, 1])
    assert curve["fpr"] == [0.0, 0.0, 0.5, 1.0]
    assert curve["tpr"] == [0.0, 0.5, 1.0, 1.0]
    assert curve["auroc"] == pytest.approx(0.875)
    assert roc_points([0.5], [1])["auroc"] is None


def test_the_track_refuses_without_a_trained_probe(stats_repo, tmp_path):
    from bench.results import BenchRunError

    home = Home.resolve()
    home.ensure()
    tasks = make_tasks(stats_repo, home, ["mean"])
    config = load_config(flags={"sandbox.kind": "local"}).config
    session = start_session(home, task_file(tmp_path / "t.jsonl", tasks), config,
                            tracks=["probe"], name="p", command=["engram"])  # fmt: skip
    session.backend_factory = lambda cfg, h: FakeBackend([], model_id="untrained")
    with pytest.raises(BenchRunError, match="no probe is trained for untrained"):
        session.run_tracks()
