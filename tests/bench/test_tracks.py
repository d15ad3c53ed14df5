"""The learn, forget and knowledge tracks end to end with the real runner and grader
(local sandbox, the oracle as the model) and a fake memory, then read back for the
report and resumed without redoing anything."""

from __future__ import annotations

import itertools
import json

import pytest

from agent.config import load_config
from agent.home import Home
from bench.report.render import render_report
from bench.session import resume_session, start_session
from bench.taxonomy import CAUSES
from tests.bench.conftest import STATS_REPO
from tests.bench.fake_memory import FakeMemory
from tests.bench.taskset import make_tasks, task_file
from tests.conftest import make_git_repo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sandboxes.local.LocalSandboxWarning"),
]
TRAIN = {"stats__bug-mean", "stats__bug-running", "stats__bug-window"}
TEST = {"stats__bug-sorted", "stats__bug-clamp"}


def oracle_session(root, mp, tracks: list[str], options: dict, **kwargs):
    """(home, session): the stats tasks in a fresh home, the oracle as the model."""
    mp.setenv("ENGRAM_HOME", str(root / "home"))
    home = Home.resolve()
    home.ensure()
    tasks = make_tasks(make_git_repo(root / "stats", STATS_REPO), home)
    config = load_config(flags={"sandbox.kind": "local", "agent.max_steps": 4,
                                "agent.repo_map_tokens": 0}).config  # fmt: skip
    session = start_session(home, task_file(root / "tasks.jsonl", tasks), config, tracks=tracks,
                            oracle=True, options=options, command=["engram", "bench"], **kwargs)  # fmt: skip
    return home, session


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tracks")
    with pytest.MonkeyPatch.context() as mp:
        options = {"learn_every": 2, "learn_sources": ["agent", "bootstrap"],
                   "arms": ["notes", "adapter", "candidate"], "humaneval_n": 8,
                   "stream_best_of": 3}  # fmt: skip
        home, session = oracle_session(root, mp, ["knowledge", "learn", "forget"], options,
                                       name="learn")  # fmt: skip
        # The gate refuses the agent source's first version: its round 1 has nothing promoted.
        fake = FakeMemory(reject=lambda home, version: home.parent.name == "agent" and version == 1)
        session.memory = fake
        session.run_tracks()
        report = render_report(session.run_dir)
        calls = (len(fake.learned), len(fake.general), len(fake.repo), len(fake.demos))
        again = resume_session(home, session.run_dir)
        again.memory = fake
        again.run_tracks()
        repeat = (len(fake.learned), len(fake.general), len(fake.repo), len(fake.demos))
        yield home, session, fake, report, calls, repeat


def test_tracks_run_in_their_dependency_order(learned):
    _, session, *_ = learned
    assert session.manifest.tracks == ["learn", "forget", "knowledge"]


def test_rounds_come_every_k_verified_examples_and_at_the_end(learned):
    _, session, fake, *_ = learned
    rounds = {}
    for source in ("agent", "bootstrap"):
        folder = session.run_dir / "learn" / source / "rounds"
        rounds[source] = [json.loads(p.read_text())["verified"] for p in sorted(folder.glob("*"))]
    assert rounds == {"agent": [2, 3], "bootstrap": [2, 3]}
    assert len(fake.learned) == 4


def test_each_source_learns_in_its_own_home_and_only_from_training_tasks(learned):
    home, session, fake, *_ = learned
    agent = [c for c in fake.learned if c["home"].parent.name == "agent"]
    boot = [c for c in fake.learned if c["home"].parent.name == "bootstrap"]
    assert all(
        c["home"] != home.root and session.run_dir in c["home"].parents for c in fake.learned
    )
    # The agent's own verified runs of training tasks — never a test task, never a demo.
    assert agent[-1]["eligible"] == sorted(TRAIN) and set(agent[-1]["runs"]) <= TRAIN
    assert agent[-1]["demos"] == []
    # Bootstrap material only: no agent runs in that home.
    assert boot[-1]["eligible"] == [] and sorted(boot[-1]["demos"]) == sorted(TRAIN)
    # Demonstrations are learned from only when asked for (`engram learn --bootstrap`).
    assert all(c["bootstrap"] for c in boot) and not any(c["bootstrap"] for c in agent)


def test_only_the_stream_samples_best_of_k(learned):
    _, session, *_ = learned
    learn = session.run_dir / "learn"
    stream = [
        json.loads(p.read_text()) for p in (learn / "agent" / "stream" / "tasks").glob("*.json")
    ]
    assert {r["instance_id"] for r in stream} == TRAIN
    # The oracle verifies its first sample, which ends the task: one sample run of three.
    assert all(len(r["extras"]["samples"]) == 1 and r["extras"]["pass@3"] for r in stream)
    held_out = list((learn / "base" / "tasks").glob("*.json")) + list(
        learn.glob("agent/r*/*/tasks/*.json")
    )
    assert held_out and not any("samples" in json.loads(p.read_text())["extras"] for p in held_out)


def test_the_arms_use_the_memory_they_name(learned):
    _, session, *_ = learned
    base = session.run_dir / "learn"
    for source in ("agent", "bootstrap"):
        adapter = [json.loads(p.read_text())
                   for p in (base / source / "r02" / "adapter" / "tasks").glob("*.json")]  # fmt: skip
        notes = [json.loads(p.read_text())
                 for p in (base / source / "r02" / "notes" / "tasks").glob("*.json")]  # fmt: skip
        assert {r["instance_id"] for r in adapter} == TEST
        assert {r["adapter_version"] for r in adapter} == {2}
        assert {r["adapter_version"] for r in notes} == {None}
        assert all(r["extras"]["notes_chars"] > 0 for r in notes)
    none = [json.loads(p.read_text()) for p in (base / "base" / "tasks").glob("*.json")]
    assert {r["adapter_version"] for r in none} == {None} and len(none) == len(TEST)


def test_arms_that_equal_another_while_nothing_is_promoted_are_not_run_again(learned):
    *_, report, _, _ = learned
    r01 = report.json.parent.parent / "learn" / "agent" / "r01"
    assert json.loads((r01 / "adapter" / "same_as.json").read_text())["same_as"] == "learn/base"
    assert not (r01 / "adapter" / "tasks").exists()
    # Round 2 promoted v2, and bootstrap's round 1 promoted v1: those cells ran.
    assert any((r01.parent / "r02" / "adapter" / "tasks").glob("*.json"))
    assert any((r01.parent.parent / "bootstrap" / "r01" / "adapter" / "tasks").glob("*.json"))
    # The candidate arm still runs the refused version.
    assert {json.loads(p.read_text())["adapter_version"]
            for p in (r01 / "candidate" / "tasks").glob("*.json")} == {1}  # fmt: skip
    data = json.loads(report.json.read_text())
    agent = data["tracks"]["learn"]["sources"]["agent"]["rounds"][0]
    assert agent["adapter_status"] == "rejected"
    assert agent["cells"]["adapter"]["same_as"] == "none"
    assert agent["cells"]["adapter"]["resolved"] == data["tracks"]["learn"]["base"]["resolved"]
    assert "Not run again while no version was promoted (`adapter` = `none`)" in (
        report.markdown.read_text()
    )


def test_the_candidate_arm_asks_for_the_newest_version(learned):
    _, session, fake, *_ = learned
    for source in ("agent", "bootstrap"):
        cell = session.run_dir / "learn" / source / "r02" / "candidate" / "tasks"
        results = [json.loads(p.read_text()) for p in cell.glob("*.json")]
        assert {r["instance_id"] for r in results} == TEST
        assert {r["adapter_version"] for r in results} == {2}
    # The oracle gives each task its own backend: one load per task, source and round.
    assert fake.newest_loads == 2 * 2 * len(TEST)


def test_forget_and_knowledge_evaluate_the_base_and_every_learned_version(learned):
    _, session, fake, *_ = learned
    assert [v for _, v in fake.general] == [None, 1, 2, 1, 2]
    assert sorted(p.stem for p in (session.run_dir / "forget").glob("*.json")) == [
        "agent-v0001", "agent-v0002", "base", "bootstrap-v0001", "bootstrap-v0002"]  # fmt: skip
    assert len(fake.repo) == 5


def test_the_report_keeps_the_sources_apart_and_shows_every_track(learned):
    *_, report, _, _ = learned
    data = json.loads(report.json.read_text())
    learn = data["tracks"]["learn"]
    assert set(learn["sources"]) == {"agent", "bootstrap"}
    assert [r["verified"] for r in learn["sources"]["agent"]["rounds"]] == [2, 3]
    forget = {e["key"]: e for e in data["tracks"]["forget"]["entries"]}
    assert forget["agent-v0002"]["delta_pass"] == pytest.approx(-2 / 8)
    text = report.markdown.read_text()
    assert "learning from the agent's own verified runs" in text
    assert "learning from bootstrap demonstrations" in text
    for name in ("learn_curve_agent", "learn_curve_bootstrap", "forgetting", "knowledge"):
        png = report.directory / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name


def test_the_report_counts_a_cause_for_every_failed_run_from_its_trajectory(learned):
    *_, report, _, _ = learned
    causes = json.loads(report.json.read_text())["failure_causes"]
    assert "learn/base" in causes and "learn/bootstrap/r01/adapter" in causes
    for name, cell in causes.items():
        assert cell["graded"] > 0, name
        # Every unresolved run's trajectory was found and classified.
        assert sum(cell["causes"].values()) == cell["graded"] - cell["resolved"], name
        assert set(cell["causes"]) <= set(CAUSES), name
    assert "## Failure causes" in report.markdown.read_text()


def test_a_resumed_run_redoes_nothing(learned):
    *_, calls, repeat = learned
    assert calls == repeat


def test_a_stream_with_one_round_at_the_end_runs_its_tasks_side_by_side(tmp_path):
    with pytest.MonkeyPatch.context() as mp:
        options = {"learn_every": len(TRAIN), "learn_sources": ["agent"], "arms": ["notes"]}
        _, session = oracle_session(tmp_path, mp, ["learn"], options, workers=2, name="one-round")
        fake = FakeMemory()
        session.memory = fake
        session.run_tracks()
    learn = session.run_dir / "learn" / "agent"
    stream = [json.loads(p.read_text()) for p in (learn / "stream" / "tasks").glob("*.json")]
    assert {r["instance_id"] for r in stream} == TRAIN and all(
        r["status"] == "resolved" for r in stream
    )
    spans = sorted((r["started_at"], r["ended_at"]) for r in stream)
    assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))  # two ran at once
    rounds = sorted(p.name for p in (learn / "rounds").glob("*.json"))
    assert rounds == ["r01.json"] and len(fake.learned) == 1
    record = json.loads((learn / "rounds" / "r01.json").read_text())
    assert record["verified"] == len(TRAIN) and record["stream_position"] == len(TRAIN)
    assert len(list((learn / "r01" / "notes" / "tasks").glob("*.json"))) == len(TEST)


def test_the_agent_stream_records_probe_features_only_when_asked(tmp_path):
    """`--collect-probes` on the learn track: the stream's runs get the feature recorder,
    writing to the probe store's dataset of the session's home."""
    from types import SimpleNamespace

    from bench.arms import AdapterHook, NotesHook
    from bench.collect import FeatureCollector
    from bench.tracks.learn import LearnTrack
    from probes.store import ProbeStore

    home = Home(root=tmp_path / "home")
    track = LearnTrack(ops=FakeMemory())
    kinds = {}
    for collect in (False, True):
        session = SimpleNamespace(home=home, track_options={"collect_probes": collect})
        hooks = track._stream_hooks(session, home)
        kinds[collect] = [type(h) for h in hooks]
        if collect:
            where = hooks[-1].target("qwen2.5-coder-0.5b-instruct")
            assert where.is_relative_to(ProbeStore.for_home(home).root)
    assert kinds == {False: [AdapterHook, NotesHook],
                     True: [AdapterHook, NotesHook, FeatureCollector]}  # fmt: skip
