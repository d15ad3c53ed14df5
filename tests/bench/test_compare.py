"""`engram bench compare`: runs side by side from their stored results, each paired with
the first on the tasks both ran; best-of-k runs show pass@1 (first sample) and pass@k."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agent.config import load_config
from agent.home import Home
from bench.compare import compare, markdown
from bench.records import is_record, load_record, record_name, save_record
from bench.results import BenchRunError, ResultStore, TaskResult, TaskStatus, Timings
from bench.session import start_session
from bench.stats import mcnemar_exact
from tests.bench.taskset import make_tasks, task_file

ENGRAM = str(Path(sys.executable).with_name("engram"))
NAMES = ["mean", "sorted", "clamp", "running", "window"]


def _result(instance_id: str, resolved: bool, seconds: float, **extras) -> TaskResult:
    status = TaskStatus.RESOLVED if resolved else TaskStatus.UNRESOLVED
    return TaskResult(
        instance_id=instance_id, cell="resolve", status=status, seed=1, exit_status="submitted",
        steps=4, model_steps=3,
        grade={"instance_id": instance_id, "resolved": resolved, "patch_status": "applied"},
        timings=Timings(agent_s=seconds, total_s=seconds), model_id="m", extras=extras,
    )  # fmt: skip


@pytest.fixture
def runs(stats_repo, tmp_path):
    home = Home.resolve()
    home.ensure()
    tasks = make_tasks(stats_repo, home, NAMES)
    path = task_file(tmp_path / "t.jsonl", tasks)

    def stored(name: str, outcomes: list[bool], flags: dict, extras=None) -> Path:
        config = load_config(flags={"sandbox.kind": "local", **flags}).config
        session = start_session(home, path, config, tracks=["resolve"], name=name,
                                command=["engram", "bench", "run"])  # fmt: skip
        store = ResultStore(session.run_dir, "resolve")
        for i, (task_id, ok) in enumerate(zip(sorted(session.manifest.task_ids), outcomes,
                                              strict=True)):  # fmt: skip
            store.write(_result(task_id, ok, 10.0 * (i + 1), **((extras or {}).get(i, {}))))
        return session.run_dir

    greedy = stored("greedy", [True, False, False, False, False], {})
    # best of 2: tasks 0 and 1 resolved by the first sample, 2 and 3 only by the second.
    sampled = stored("sampled", [True, True, True, True, False], {"agent.best_of": 2}, extras={
        0: {"pass@1": True, "pass@2": True}, 1: {"pass@1": True, "pass@2": True},
        2: {"pass@1": False, "pass@2": True}, 3: {"pass@1": False, "pass@2": True},
        4: {"pass@1": False, "pass@2": False},
    })  # fmt: skip
    return home, greedy, sampled


def test_rows_pair_each_run_with_the_first_on_common_tasks(runs):
    _, greedy, sampled = runs
    result = compare([(greedy, "resolve"), (sampled, "resolve")])
    first, second = result.rows
    assert (first.pass_at_1.k, first.pass_at_1.n, first.k) == (1, 5, 1)
    assert (second.pass_at_1.k, second.resolved.k, second.k) == (2, 4, 2)
    assert first.task_s_median == 30.0
    assert result.paired[0] is None
    pair = result.paired[1]
    assert (pair.tasks, pair.both, pair.only_a, pair.only_b, pair.neither) == (5, 1, 0, 3, 1)
    assert pair.p_value == pytest.approx(mcnemar_exact(0, 3))
    text = "\n".join(markdown(result))
    assert "agent.best_of" in text  # the setting that differs gets a column
    assert "k=2: 80 % (4/5" in text and "1 / 3 / 0 of 5" in text


def test_a_missing_run_or_cell_is_a_clear_error(runs, tmp_path):
    _, greedy, _ = runs
    with pytest.raises(BenchRunError, match="not a bench run"):
        compare([(tmp_path / "nothing", "resolve")])
    with pytest.raises(BenchRunError, match="no results in cell 'learn/base'"):
        compare([(greedy, "learn/base")])


def test_the_command_prints_the_table_and_json(runs):
    home, _, _ = runs
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home.root)
    proc = subprocess.run([ENGRAM, "bench", "compare", "greedy", "sampled"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| greedy |" in proc.stdout and "| sampled |" in proc.stdout
    proc = subprocess.run([ENGRAM, "bench", "compare", "greedy", "sampled", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    data = json.loads(proc.stdout)
    assert [r["run"] for r in data["rows"]] == ["greedy", "sampled"]
    proc = subprocess.run([ENGRAM, "bench", "compare", "nope"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "not a bench run" in said and "engram bench run" in said


def test_a_record_stands_in_for_its_run_after_the_run_is_gone(runs, tmp_path):
    home, greedy, _ = runs
    env = {k: v for k, v in os.environ.items() if not (k.startswith("ENGRAM_") and "__" in k)}
    env["ENGRAM_HOME"] = str(home.root)
    records = tmp_path / "records"
    proc = subprocess.run([ENGRAM, "bench", "compare", "greedy", "sampled", "--json",
                           "--record", str(records)], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = json.loads(proc.stdout)  # the record lines go to stderr, not into the JSON
    assert sorted(p.name for p in records.iterdir()) == ["greedy.json", "sampled.json"]
    saved = load_record(records / "greedy.json")
    assert saved.command == ["engram", "bench", "run"] and saved.task_set_hash
    shutil.rmtree(greedy)  # the machine that made it is gone
    proc = subprocess.run([ENGRAM, "bench", "compare", str(records / "greedy.json"), "sampled",
                           "--json"], env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = json.loads(proc.stdout)
    assert after == before  # same rows, same pairing


def test_a_broken_record_is_a_clear_error(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"row": {"run": "x"}}')
    with pytest.raises(BenchRunError, match=r"not a run record.*--record DIR"):
        load_record(path)
    assert is_record(str(path)) and not is_record(str(tmp_path / "missing.json"))


def test_a_record_directory_that_is_a_file_is_a_clear_error(runs, tmp_path):
    _, greedy, _ = runs
    row = compare([(greedy, "resolve")]).rows[0]
    (tmp_path / "taken").write_text("")
    with pytest.raises(BenchRunError, match="cannot make that directory"):
        save_record(row, greedy, tmp_path / "taken")


def test_record_names_keep_the_cell(runs):
    _, greedy, _ = runs
    row = compare([(greedy, "resolve")]).rows[0]
    assert record_name(row) == "greedy.json"
    assert record_name(row.model_copy(update={"cell": "learn/base"})) == "greedy#learn.base.json"
