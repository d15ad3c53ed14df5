"""Benchmark tasks in SWE-bench's instance schema.

A task file is JSONL (one instance per line) or JSON (a list of instances, or one
instance); files load as they are and are written back in the layout they came in.
`FAIL_TO_PASS` / `PASS_TO_PASS` are JSON-encoded strings of lists in SWE-bench's
Hugging Face export and plain lists elsewhere: both are read, and each instance is
written back in the form it was read in. Fields this schema does not name are kept.

engram's own fields (generated tasks) sit next to SWE-bench's and are optional:
`split`, `group`, `source`, `mutations` (what was injected where, for analysis only),
`difficulty` (number of mutation sites) and `validation_s`.

The agent never sees a `BenchTask`: it gets an `agent.types.Task` (`to_task`), which
has no gold `patch` and no mutation records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from agent.types import Task

Layout = Literal["jsonl", "json-list", "json-object"]
_SWE_LABELS = ("version", "environment_setup_commit", "created_at", "hints_text")


class TaskFileError(ValueError):
    """A task file cannot be read; the message names the file, the line and the problem."""

    user_facing = True


class SiteRecord(BaseModel):
    """One injected mutation, as recorded in a task file (analysis only; never shown)."""

    model_config = ConfigDict(extra="allow")

    kind: str
    file: str
    line: int
    end_line: int
    function: str = ""
    description: str = ""


class BenchTask(BaseModel):
    """One SWE-bench instance (plus engram's optional fields; unknown ones are kept)."""

    model_config = ConfigDict(extra="allow")

    instance_id: str = Field(min_length=1)
    repo: str = Field(description="owner/name (SWE-bench), or engram's source spec")
    base_commit: str = Field(min_length=1)
    problem_statement: str
    FAIL_TO_PASS: list[str] = Field(default_factory=list)
    PASS_TO_PASS: list[str] = Field(default_factory=list)
    patch: str | None = Field(default=None, description="the gold fix; never shown to the agent")
    test_patch: str | None = None
    version: str | int | float | None = None
    environment_setup_commit: str | None = None
    hints_text: str | None = None
    created_at: str | int | float | None = None
    # engram's fields
    split: Literal["train", "test", "any"] | None = None
    group: str | None = Field(default=None, description="in_kind | heldout_kind")
    source: str | None = Field(default=None, description="generated | swe-bench | …")
    mutations: list[SiteRecord] | None = None
    difficulty: int | None = Field(default=None, description="number of mutation sites")
    validation_s: float | None = None

    _lists_as_json: bool = PrivateAttr(default=False)

    @field_validator("FAIL_TO_PASS", "PASS_TO_PASS", mode="before")
    @classmethod
    def _decode_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                decoded = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list of test ids: {exc}") from exc
            return decoded
        return value

    # -- records ---------------------------------------------------------------

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> BenchTask:
        task = cls.model_validate(record)
        task._lists_as_json = isinstance(record.get("FAIL_TO_PASS"), str) or isinstance(
            record.get("PASS_TO_PASS"), str
        )
        return task

    def to_record(self) -> dict[str, Any]:
        """The instance as it would be written: fields that were never set are left out."""
        record = self.model_dump(mode="json", exclude_unset=True)
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            record.setdefault(key, [])
            if self._lists_as_json:
                record[key] = json.dumps(record[key])
        return record

    # -- the agent's view ------------------------------------------------------

    @property
    def kinds(self) -> list[str]:
        return sorted({m.kind for m in self.mutations or []})

    def to_task(self) -> Task:
        """The agent-facing task: no gold patch, no mutation sites (kinds stay as labels)."""
        labels: dict[str, str] = {}
        if self.kinds:
            labels["kinds"] = ",".join(self.kinds)
        if self.difficulty is not None:
            labels["difficulty"] = str(self.difficulty)
        if self.group:
            labels["group"] = self.group
        for name in _SWE_LABELS:
            value = getattr(self, name)
            if value is not None:
                labels[f"swe.{name}"] = str(value)
        return Task(
            id=self.instance_id, repo=self.repo, problem_statement=self.problem_statement,
            base_commit=self.base_commit, fail_to_pass=list(self.FAIL_TO_PASS),
            pass_to_pass=list(self.PASS_TO_PASS), test_patch=self.test_patch or None,
            source=self.source or "swe-bench", split=self.split or "any", labels=labels,
        )  # fmt: skip

    @classmethod
    def from_task(cls, task: Task, patch: str | None = None) -> BenchTask:
        """An instance from an agent Task (the gold patch, if known, given separately).

        SWE-bench's scalar fields come back from the `swe.*` labels as strings.
        """
        if not task.base_commit:
            raise ValueError(f"task {task.id} has no base commit; SWE-bench instances need one")
        fields: dict[str, Any] = {
            "instance_id": task.id, "repo": task.repo, "base_commit": task.base_commit,
            "problem_statement": task.problem_statement, "FAIL_TO_PASS": list(task.fail_to_pass),
            "PASS_TO_PASS": list(task.pass_to_pass), "source": task.source,
        }  # fmt: skip
        if task.test_patch is not None:
            fields["test_patch"] = task.test_patch
        if patch is not None:
            fields["patch"] = patch
        if task.split != "any":
            fields["split"] = task.split
        for name in _SWE_LABELS:
            if f"swe.{name}" in task.labels:
                fields[name] = task.labels[f"swe.{name}"]
        if "group" in task.labels:
            fields["group"] = task.labels["group"]
        if "difficulty" in task.labels:
            fields["difficulty"] = int(task.labels["difficulty"])
        return cls.model_validate(fields)


# --------------------------------------------------------------------------- files


@dataclass
class TaskFile:
    tasks: list[BenchTask] = field(default_factory=list)
    layout: Layout = "jsonl"

    def by_id(self) -> dict[str, BenchTask]:
        return {t.instance_id: t for t in self.tasks}

    def write(self, path: Path) -> None:
        write_tasks(path, self.tasks, self.layout)


def _parse(record: Any, where: str) -> BenchTask:
    if not isinstance(record, dict):
        raise TaskFileError(
            f"{where}: expected a JSON object (one instance), got {type(record).__name__}"
        )
    try:
        return BenchTask.from_record(record)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'instance'}: {e['msg']}" for e in exc.errors()
        )
        raise TaskFileError(f"{where}: not a SWE-bench instance ({problems})") from exc


def read_task_file(path: Path) -> TaskFile:
    """Load a JSON or JSONL task file as it is (see the module docstring)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskFileError(f"cannot read {path}: {exc.strerror}") from exc
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{path}: not valid JSON ({exc})") from exc
        return TaskFile([_parse(r, f"{path} item {i}") for i, r in enumerate(records)], "json-list")
    if stripped.startswith("{") and path.suffix == ".json":
        try:
            return TaskFile([_parse(json.loads(text), str(path))], "json-object")
        except json.JSONDecodeError:
            pass  # a .json file that is really JSONL
    tasks: list[BenchTask] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TaskFileError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        tasks.append(_parse(record, f"{path}:{number}"))
    return TaskFile(tasks, "jsonl")


def load_tasks(path: Path) -> list[BenchTask]:
    return read_task_file(path).tasks


def dumps_tasks(tasks: list[BenchTask], layout: Layout = "jsonl") -> str:
    records = [t.to_record() for t in tasks]
    if layout == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if layout == "json-object" and len(records) == 1:
        return json.dumps(records[0], indent=2, ensure_ascii=False) + "\n"
    return json.dumps(records, indent=2, ensure_ascii=False) + "\n"


def write_tasks(path: Path, tasks: list[BenchTask], layout: Layout | None = None) -> None:
    """Write atomically; the layout defaults to the file name (`.json`: a list, else JSONL)."""
    from agent import atomic

    if layout is None:
        layout = "json-list" if path.suffix == ".json" else "jsonl"
    atomic.write_text(path, dumps_tasks(tasks, layout))
