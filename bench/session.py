"""A bench run as a whole: its directory and manifest, the selected tasks, the shared
backend, and the tracks it runs — started fresh or resumed from its directory.

The manifest (`run.json`) records the command, the merged config, the seed, the task
file's sha256 and a hash of the selected tasks' records; a resume takes all of these
from the manifest (only the number of workers may change) and refuses a task file
whose selected tasks are no longer the same.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.backends.base import LLMBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.types import content_hash, utcnow
from bench.memory_ops import MemoryOps
from bench.results import (
    BenchRunError,
    ResultStore,
    RunManifest,
    check_name,
    load_manifest,
    save_manifest,
)
from bench.runner import BenchRunner, RunnerOptions
from bench.tasks import BenchTask, load_tasks

TRACK_ORDER = ("resolve", "probe", "learn", "forget", "knowledge")
Note = Callable[[str], None]


def select_tasks(
    tasks: list[BenchTask],
    split: str | None = None,
    limit: int | None = None,
    seed: int = 0,
    ids: list[str] | None = None,
) -> list[BenchTask]:
    """The tasks a run uses, in file order: `ids` if given, else the split; `limit`
    takes a seeded sample (so a small run still spans the set's kinds)."""
    chosen = tasks
    if ids:
        wanted = set(ids)
        unknown = wanted - {t.instance_id for t in tasks}
        if unknown:
            raise BenchRunError(f"not in the task file: {', '.join(sorted(unknown))}")
        chosen = [t for t in tasks if t.instance_id in wanted]
    elif split and split != "all":
        chosen = [t for t in tasks if (t.split or "any") == split]
    if limit is not None and limit < len(chosen):
        keep = set(random.Random(seed).sample(range(len(chosen)), limit))
        chosen = [t for i, t in enumerate(chosen) if i in keep]
    if not chosen:
        raise BenchRunError("no task is selected: check --split / --ids against the task file")
    return chosen


def task_set_hash(tasks: list[BenchTask]) -> str:
    return content_hash([t.to_record() for t in tasks])


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def engram_commit() -> str | None:
    source = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True,
                             text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=source,
                           capture_output=True, text=True, timeout=10).stdout.strip()  # fmt: skip
    return out.stdout.strip() + ("+dirty" if dirty else "")


def new_run_name() -> str:
    return f"run-{datetime.now():%Y%m%d-%H%M%S}-{random.randbytes(2).hex()}"


def run_dir_for(home: Home, ref: str) -> Path:
    """A run given by path or by name (under ENGRAM_HOME/bench/)."""
    path = Path(ref).expanduser()
    if path.is_dir() or "/" in ref:
        return path.resolve()
    return home.bench / check_name(ref)


@dataclass
class Session:
    home: Home
    run_dir: Path
    manifest: RunManifest
    tasks: list[BenchTask]
    config: EngramConfig
    options: RunnerOptions
    note: Note = lambda text: None
    report_task: Callable = lambda result, done, total: None
    backend_factory: Callable[[EngramConfig, Home], LLMBackend] | None = None
    memory: MemoryOps | None = None  # None: memory's own (bench.memory_ops.EngramMemory)
    _backend: LLMBackend | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- the model --------------------------------------------------------------

    def backend_for(self, task: BenchTask) -> LLMBackend:
        """One backend for the whole run (loaded on first use), or the oracle per task."""
        if self.manifest.oracle:
            from bench.oracle import oracle_backend

            return oracle_backend(task)
        with self._lock:
            if self._backend is None:
                self.note(f"loading {self.config.model.name} ({self.config.model.backend} backend)")
                factory = self.backend_factory or _default_backend
                self._backend = factory(self.config, self.home)
                self.manifest.model_id = self._backend.model_id
                self.manifest.backend = self._backend.name
                save_manifest(self.run_dir, self.manifest)
            return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        close_memory = getattr(self.memory, "close", None)
        if close_memory is not None:
            close_memory()

    def memory_ops(self) -> MemoryOps:
        if self.memory is None:
            from bench.memory_ops import EngramMemory

            self.memory = EngramMemory(progress=self.note)
        return self.memory

    # -- cells --------------------------------------------------------------------

    def store(self, *parts: str) -> ResultStore:
        """The result store of a cell: the run directory itself for the resolve track."""
        return ResultStore(self.run_dir.joinpath(*parts), "/".join(parts) or "resolve")

    def runner(self, options: RunnerOptions | None = None) -> BenchRunner:
        return BenchRunner(self.home, self.config, self.backend_for, options or self.options,
                           report=self.report_task, note=self.note)  # fmt: skip

    @property
    def track_options(self) -> dict[str, Any]:
        return self.manifest.options

    # -- running ------------------------------------------------------------------

    def run_tracks(self) -> None:
        from bench.tracks import get_track

        for name in self.manifest.tracks:
            self.note(f"track {name}")
            get_track(name).run(self)


def _default_backend(config: EngramConfig, home: Home) -> LLMBackend:
    from agent.assembly import make_backend

    return make_backend(config, home)


def start_session(
    home: Home,
    tasks_file: Path,
    config: EngramConfig,
    *,
    tracks: list[str],
    split: str | None = None,
    limit: int | None = None,
    ids: list[str] | None = None,
    seed: int = 0,
    workers: int = 1,
    oracle: bool = False,
    options: dict[str, Any] | None = None,
    runner_options: RunnerOptions | None = None,
    out: Path | None = None,
    name: str | None = None,
    command: list[str] | None = None,
) -> Session:
    from bench.tracks import get_track

    for track in tracks:
        get_track(track)  # an unknown name fails before any work
    ordered = [t for t in TRACK_ORDER if t in tracks]
    all_tasks = load_tasks(tasks_file)
    chosen = select_tasks(all_tasks, split, limit, seed, ids)
    name = check_name(name or (out.name if out is not None else new_run_name()))
    run_dir = out.expanduser().resolve() if out is not None else home.bench / name
    if (run_dir / "run.json").exists():
        raise BenchRunError(f"{run_dir} already holds a bench run: resume it with "
                            f"`engram bench run --resume {run_dir}`, or choose another --out")  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    manifest = RunManifest(
        name=name, command=command if command is not None else list(sys.argv),
        tasks_file=str(tasks_file.resolve()), tasks_file_sha256=file_sha256(tasks_file),
        task_set_hash=task_set_hash(chosen), task_ids=[t.instance_id for t in chosen],
        split=split, limit=limit, seed=seed, tracks=ordered, workers=workers, oracle=oracle,
        config=config.model_dump(mode="json"), options=dict(options or {}),
        engram_commit=engram_commit(),
    )  # fmt: skip
    runner_options = runner_options or RunnerOptions()
    runner_options.workers, runner_options.seed = workers, seed
    manifest.options.setdefault("task_timeout_s", runner_options.task_timeout_s)
    manifest.options.setdefault("grade_timeout_s", runner_options.grade_timeout_s)
    save_manifest(run_dir, manifest)
    return Session(home, run_dir, manifest, chosen, config, runner_options)


def resume_session(home: Home, run_dir: Path, workers: int | None = None,
                   runner_options: RunnerOptions | None = None) -> Session:  # fmt: skip
    manifest = load_manifest(run_dir)
    tasks_file = Path(manifest.tasks_file)
    if not tasks_file.is_file():
        raise BenchRunError(f"the run's task file {tasks_file} is gone; put it back to resume")
    by_id = {t.instance_id: t for t in load_tasks(tasks_file)}
    missing = [i for i in manifest.task_ids if i not in by_id]
    chosen = [by_id[i] for i in manifest.task_ids if i in by_id]
    if missing or task_set_hash(chosen) != manifest.task_set_hash:
        raise BenchRunError(
            f"{tasks_file} no longer holds the tasks this run started with "
            f"({len(missing)} missing, or their records changed); start a new run instead"
        )
    config = EngramConfig.model_validate(manifest.config)
    if workers is not None:
        manifest.workers = workers
    manifest.resumed.append(utcnow())
    save_manifest(run_dir, manifest)
    runner_options = runner_options or RunnerOptions()
    runner_options.workers, runner_options.seed = manifest.workers, manifest.seed
    for key in ("task_timeout_s", "grade_timeout_s"):
        if key in manifest.options:
            setattr(runner_options, key, manifest.options[key])
    return Session(home, run_dir, manifest, chosen, config, runner_options)
