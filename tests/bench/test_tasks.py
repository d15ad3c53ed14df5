"""SWE-bench's instance schema: files load as they are and are written back the same way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.tasks import BenchTask, TaskFileError, load_tasks, read_task_file, write_tasks

# Shaped exactly like a row of SWE-bench's Hugging Face export: the test lists are
# JSON-encoded strings, `version` a string, `created_at` an ISO timestamp string.
SWE_BENCH_ROW = {
    "repo": "pallets/flask",
    "instance_id": "pallets__flask-4992",
    "base_commit": "4c288bc97ea371817199908d0d9b12de9dae327e",
    "patch": (
        "diff --git a/src/flask/config.py b/src/flask/config.py\n"
        "--- a/src/flask/config.py\n+++ b/src/flask/config.py\n"
        "@@ -234,6 +234,7 @@ def from_file(\n"
        "         filename: str,\n         load: t.Callable[[t.IO[t.Any]], t.Mapping],\n"
        "         silent: bool = False,\n+        text: bool = True,\n     ) -> bool:\n"
    ),
    "test_patch": (
        "diff --git a/tests/test_config.py b/tests/test_config.py\n"
        "--- a/tests/test_config.py\n+++ b/tests/test_config.py\n"
        "@@ -6,7 +6,6 @@\n import pytest\n \n import flask\n-\n \n"
    ),
    "problem_statement": "Add a file mode parameter to flask.Config.from_file()\n\nPython 3.11 "
    "introduced native TOML support with the `tomllib` package. …",
    "hints_text": "You can also use:\r\n\r\n```python\r\napp.config.from_file(...)\r\n```",
    "created_at": "2023-02-22T14:00:17Z",
    "version": "2.3",
    "FAIL_TO_PASS": '["tests/test_config.py::test_config_from_file_toml"]',
    "PASS_TO_PASS": '["tests/test_config.py::test_config_from_pyfile", '
    '"tests/test_config.py::test_config_from_object", '
    '"tests/test_config.py::test_from_prefixed_env_nested"]',
    "environment_setup_commit": "182ce3dd15dfa3537391c3efaf9c3ff407d134d4",
}


def test_hf_export_row_round_trips_unchanged(tmp_path):
    path = tmp_path / "swe.jsonl"
    path.write_text(json.dumps(SWE_BENCH_ROW) + "\n")
    task_file = read_task_file(path)
    task = task_file.tasks[0]
    assert task.FAIL_TO_PASS == ["tests/test_config.py::test_config_from_file_toml"]
    assert len(task.PASS_TO_PASS) == 3
    out = tmp_path / "back.jsonl"
    task_file.write(out)
    assert json.loads(out.read_text()) == SWE_BENCH_ROW


def test_plain_lists_stay_plain_lists(tmp_path):
    row = {**SWE_BENCH_ROW, "FAIL_TO_PASS": ["a::b"], "PASS_TO_PASS": []}
    path = tmp_path / "plain.json"
    path.write_text(json.dumps([row]))
    task_file = read_task_file(path)
    assert task_file.layout == "json-list"
    task_file.write(path)
    assert json.loads(path.read_text()) == [row]


def test_unknown_fields_are_kept(tmp_path):
    row = {**SWE_BENCH_ROW, "difficulty_note": {"level": 3}, "FAIL_TO_PASS_count": 1}
    path = tmp_path / "extra.jsonl"
    path.write_text(json.dumps(row) + "\n")
    task_file = read_task_file(path)
    task_file.write(path)
    assert json.loads(path.read_text()) == row


def test_single_object_json_file(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps(SWE_BENCH_ROW, indent=2))
    task_file = read_task_file(path)
    assert task_file.layout == "json-object" and len(task_file.tasks) == 1
    task_file.write(path)
    assert json.loads(path.read_text()) == SWE_BENCH_ROW


def test_agent_task_has_no_gold_patch_and_keeps_swe_fields():
    task = BenchTask.from_record(SWE_BENCH_ROW).to_task()
    dumped = task.model_dump_json()
    assert "ea371817" not in task.problem_statement
    assert "text: bool = True" not in dumped  # the gold patch never reaches the agent
    assert task.id == "pallets__flask-4992" and task.base_commit == SWE_BENCH_ROW["base_commit"]
    assert task.fail_to_pass == ["tests/test_config.py::test_config_from_file_toml"]
    assert task.test_patch == SWE_BENCH_ROW["test_patch"]
    assert task.labels["swe.version"] == "2.3"
    assert task.source == "swe-bench"


def test_task_converts_back_to_the_same_instance():
    original = BenchTask.from_record(SWE_BENCH_ROW)
    back = BenchTask.from_task(original.to_task(), patch=original.patch)
    for name in ("instance_id", "repo", "base_commit", "problem_statement", "FAIL_TO_PASS",
                 "PASS_TO_PASS", "patch", "test_patch", "version", "environment_setup_commit",
                 "hints_text", "created_at"):  # fmt: skip
        assert getattr(back, name) == getattr(original, name), name


def test_generated_fields_survive_the_agent_task():
    row = {
        **SWE_BENCH_ROW, "split": "train", "group": "in_kind", "source": "generated",
        "difficulty": 2, "mutations": [
            {"kind": "comparison", "file": "a.py", "line": 3, "end_line": 3},
            {"kind": "off_by_one", "file": "b.py", "line": 9, "end_line": 9},
        ],
    }  # fmt: skip
    task = BenchTask.from_record(row).to_task()
    assert task.split == "train" and task.source == "generated"
    assert task.labels["kinds"] == "comparison,off_by_one"
    assert "a.py" not in task.model_dump_json()  # where the bug is stays out of the agent's task
    back = BenchTask.from_task(task)
    assert (back.split, back.group, back.difficulty) == ("train", "in_kind", 2)


def test_a_broken_line_is_reported_with_its_number(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(SWE_BENCH_ROW) + "\n{not json\n")
    with pytest.raises(TaskFileError, match=r"bad.jsonl:2"):
        load_tasks(path)


def test_a_missing_required_field_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    row = {k: v for k, v in SWE_BENCH_ROW.items() if k != "base_commit"}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(TaskFileError, match="base_commit"):
        load_tasks(path)


def test_write_tasks_picks_the_layout_from_the_name(tmp_path):
    tasks = [BenchTask.from_record(SWE_BENCH_ROW)]
    write_tasks(tmp_path / "x.json", tasks)
    write_tasks(tmp_path / "x.jsonl", tasks)
    assert isinstance(json.loads((tmp_path / "x.json").read_text()), list)
    assert len(Path(tmp_path / "x.jsonl").read_text().splitlines()) == 1
