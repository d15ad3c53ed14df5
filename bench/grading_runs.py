"""Grading many tasks: predictions files, parallel sandboxes, a resumable grades file."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.grading import Grade, Grader
from bench.tasks import BenchTask, TaskFileError


def load_predictions(path: Path) -> dict[str, str]:
    """SWE-bench predictions (`instance_id`, `model_patch`), as JSONL or a JSON list/dict."""
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text)
        records = list(data.values()) if isinstance(data, dict) else data
    except json.JSONDecodeError:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    out: dict[str, str] = {}
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict) or "instance_id" not in record:
            raise TaskFileError(f"{path} record {number}: needs instance_id and model_patch")
        out[record["instance_id"]] = record.get("model_patch") or ""
    return out


def _done(out: Path | None) -> dict[str, Grade]:
    grades: dict[str, Grade] = {}
    if out is None or not out.is_file():
        return grades
    for line in out.read_text(encoding="utf-8").splitlines():
        try:
            grade = Grade.model_validate_json(line)
        except ValueError:
            continue  # torn last line of a killed run
        if grade.error is None:
            grades[grade.instance_id] = grade
    return grades


def grade_many(
    grader: Grader,
    tasks: list[BenchTask],
    patches: dict[str, str],
    workers: int = 1,
    out: Path | None = None,
    report: Callable[[Grade], None] = lambda g: None,
) -> list[Grade]:
    """Grade every task (a task without a patch is graded as an empty patch).

    With `out`, grades are appended as they finish and tasks already graded there
    (without a grader error) are not graded again.
    """
    done = _done(out)
    lock = threading.Lock()

    def one(task: BenchTask) -> Grade:
        if task.instance_id in done:
            return done[task.instance_id]
        grade = grader.grade(task, patches.get(task.instance_id, ""))
        with lock:
            if out is not None:
                out.parent.mkdir(parents=True, exist_ok=True)
                with out.open("a", encoding="utf-8") as handle:
                    handle.write(grade.model_dump_json() + "\n")
            report(grade)
        return grade

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, tasks))
