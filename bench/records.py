"""Run records: one cell of a bench run, kept in the repository (`docs/records/`).

A run's directory lives under ENGRAM_HOME on the machine that made it, and machines are
replaced. A record is the part of a run that the docs' figures rest on — the cell's row as
`engram bench compare` shows it (rates, causes, median time, every task's outcome) plus
what made it (command, commit, task set). `engram bench compare` reads a record wherever
it reads a run, so a run made today can be paired with one made on a machine long gone.

A record holds outcomes, not trajectories: it can be compared, not re-counted. Re-run the
record's `command` to get the trajectories back.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent import atomic
from agent.types import utcnow
from bench.compare import CellRow
from bench.results import BenchRunError, load_manifest

RECORD_VERSION = 1


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int = RECORD_VERSION
    saved_at: datetime = Field(default_factory=utcnow)
    run_created_at: datetime | None = None
    command: list[str] = Field(default_factory=list)
    engram_commit: str | None = None
    task_set_hash: str | None = None
    row: CellRow


def record_name(row: CellRow) -> str:
    """`NAME.json` for the resolve cell, `NAME#learn.base.json` for `learn/base`."""
    suffix = "" if row.cell == "resolve" else "#" + row.cell.replace("/", ".")
    return f"{row.run}{suffix}.json"


def save_record(row: CellRow, run_dir: Path, directory: Path) -> Path:
    """Write `row` (a cell of the run in `run_dir`) as a record under `directory`; an older
    record of the same cell is replaced."""
    manifest = load_manifest(run_dir)
    record = RunRecord(
        run_created_at=manifest.created_at, command=manifest.command,
        engram_commit=manifest.engram_commit, task_set_hash=manifest.task_set_hash, row=row,
    )  # fmt: skip
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchRunError(f"--record {directory}: cannot make that directory ({exc})") from exc
    path = directory / record_name(row)
    atomic.write_text(path, record.model_dump_json(indent=1) + "\n")
    return path


def is_record(ref: str) -> bool:
    """Whether a `bench compare` argument names a record file rather than a run."""
    return ref.endswith(".json") and Path(ref).expanduser().is_file()


def load_record(path: Path) -> RunRecord:
    try:
        return RunRecord.model_validate_json(path.read_text())
    except (OSError, ValidationError, ValueError) as exc:
        raise BenchRunError(
            f"{path} is not a run record ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
            "records are written by `engram bench compare RUN ... --record DIR`"
        ) from exc
