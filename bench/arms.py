"""Memory arms: run hooks that give a task's run the repo's notes or its adapter, and
the private homes the learn track keeps its learning material in.

- `NotesHook`: the repo notes memory keeps (under a given home), handed to the run as
  `repo_notes`; every policy puts them after its system prompt (`with_repo_notes`).
  The run records how many characters it was given.
- `AdapterHook`: the repo's current adapter (under a given home) loaded into the shared
  backend once per cell and used by every run of the cell; with `newest`, the newest
  version even when the gate rejected it (the learn track's `candidate` arm).
- `FixedAdapterHook`: one given adapter version for every task, whatever its repo
  (`engram bench run --adapter DIR`): how a repo's adapter does on *another* repo's
  tasks, the transfer half of "repo memory or general skill".
- `sub_home`: an ENGRAM_HOME of its own under the run directory (runs, adapters,
  notes), sharing the real home's models. The learn track learns in one per source, so
  what the agent learned from its own runs and what it learned from bootstrap
  demonstrations never mix, and nothing a benchmark does reaches the user's memory.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from agent.home import Home
from agent.types import Trajectory
from bench.grading import Grade
from bench.memory_ops import MemoryOps
from bench.results import BenchRunError
from bench.runner import TaskContext


@dataclass(frozen=True)
class SubHome(Home):
    """A home whose models are another home's (they are large and read-only)."""

    models_from: Path = Path()

    @property
    def models(self) -> Path:
        return self.models_from


def sub_home(parent: Home, root: Path) -> SubHome:
    home = SubHome(root=root, models_from=parent.models)
    home.ensure()
    return home


class NotesHook:
    def __init__(self, ops: MemoryOps, home: Home):
        self.ops = ops
        self.home = home

    def before(self, ctx: TaskContext) -> None:
        text = self.ops.notes(self.home, ctx.repo_id)
        ctx.extras["notes_chars"] = len(text or "")
        # Every policy puts them in its own prompts (the small policy writes its own
        # system messages, so a change to the run's system prompt would never reach it).
        ctx.handles.repo_notes = text or None

    def after(self, ctx: TaskContext, trajectory: Trajectory, grade: Grade) -> None:
        pass


class AdapterHook:
    def __init__(self, ops: MemoryOps, home: Home, newest: bool = False):
        self.ops = ops
        self.home = home
        self.newest = newest
        self._loaded: dict[tuple[int, str], tuple[str, int] | None] = {}
        self._lock = threading.Lock()

    def before(self, ctx: TaskContext) -> None:
        # Once per backend and repo: a shared backend loads it once for the whole cell.
        key = (id(ctx.backend), ctx.repo_id)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = self.ops.load_adapter(ctx.backend, self.home, ctx.repo_id,
                                                          newest=self.newest)  # fmt: skip
            chosen = self._loaded[key]
        ctx.extras["adapter_version"] = chosen[1] if chosen else None
        if chosen is not None:
            ctx.handles.adapter, ctx.handles.adapter_version = chosen

    def after(self, ctx: TaskContext, trajectory: Trajectory, grade: Grade) -> None:
        pass


class AdapterRefused(BenchRunError):
    """The given adapter cannot run on this backend: the whole cell stops, not each task."""

    stops_run = True


class FixedAdapterHook:
    """Every task runs with the adapter version in `path` (a version folder of an adapter
    store: the weights and their manifest.json), checked against the backend's base model."""

    def __init__(self, path: Path):
        from agent.types import AdapterVersion
        from memory.adapter_store import MANIFEST

        manifest = path / MANIFEST
        if not manifest.is_file():
            raise BenchRunError(f"{path} is not an adapter version (no {MANIFEST}); give a folder "
                                "like ENGRAM_HOME/adapters/<repo>/v0001")  # fmt: skip
        self.path = path
        self.version = AdapterVersion.model_validate_json(manifest.read_text())
        self._loaded: set[int] = set()
        self._lock = threading.Lock()

    def before(self, ctx: TaskContext) -> None:
        v = self.version
        name = f"{v.repo_id}-v{v.version}"
        with self._lock:
            if id(ctx.backend) not in self._loaded:
                base = getattr(ctx.backend, "model_sha256", None)
                if not ctx.backend.capabilities.adapters:
                    raise AdapterRefused(f"the {ctx.backend.name} backend cannot load adapters")
                if base != v.base_model_hash:
                    raise AdapterRefused(f"adapter {name} was trained on another base model "
                                        f"({v.base_model_id}) than the backend runs")  # fmt: skip
                ctx.backend.load_adapter(name, self.path)
                self._loaded.add(id(ctx.backend))
        ctx.handles.adapter, ctx.handles.adapter_version = name, v.version
        ctx.extras["adapter_version"] = v.version
        ctx.extras["adapter_repo"] = v.repo_id

    def after(self, ctx: TaskContext, trajectory: Trajectory, grade: Grade) -> None:
        pass
