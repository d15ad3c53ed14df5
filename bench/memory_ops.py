"""What the learn, forget and knowledge tracks need from memory, behind one seam.

`MemoryOps` is the interface the tracks are written against; `EngramMemory` implements
it with memory's own machinery, importing it only when a track runs. Where a piece has
not landed in this engram yet, the call raises `TrackUnavailable` naming what is
missing — a track never makes up a number. Tests drive the tracks with a fake.

The pieces and where they come from:

- `learn(repo, home, config, bootstrap=False) -> AdapterVersion | None`: consolidate the
  verified runs stored under `home` into a new adapter version for the repo (memory:
  `engram learn`, which also runs the gate). `repo` is the repository's clean checkout.
  Bootstrap demonstrations are learned from only with `bootstrap=True` (`engram learn
  --bootstrap`), so a source's curve never mixes them with the agent's own runs.
- `load_adapter(backend, home, repo_id, newest=False) -> (name, version) | None`: the
  repo's current adapter (or, with `newest`, its newest version whatever the gate said),
  loaded into the backend (memory's `FileAdapterStore.for_loading`, which checks the
  version was trained on the backend's base model).
- `notes(home, repo_id) -> str | None`: the repo notes memory keeps, as prompt text.
- `bootstrap(task, checkout, home, config) -> bool`: write a demonstration run of a
  training task (from its known fix) into `home` as learning material, labelled as a
  bootstrap demonstration (the small-model policy's demonstration writer).
- `general_eval(home, config, repo_id, version, n)`: HumanEval subset pass@1 and
  held-out code loss of the base model (version None) or base + an adapter version
  (memory's `general_eval`).
- `repo_eval(home, config, repo, repo_id, version)`: closed-book questions about the
  repository (memory's repo evaluation).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from agent.backends.base import LLMBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.types import AdapterVersion, Model
from bench.tasks import BenchTask


class TrackUnavailable(RuntimeError):
    """A track's dependency is not in this engram; the message says which and what to do."""

    user_facing = True
    stops_run = True


class GeneralScore(Model):
    humaneval_passed: int | None = None
    humaneval_n: int | None = None
    heldout_loss: float | None = None
    seconds: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)


class KnowledgeScore(Model):
    correct: int
    questions: int
    mean_score: float | None = None
    seconds: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)


class MemoryOps(Protocol):
    def learn(self, repo: Path, home: Home, config: EngramConfig,
              bootstrap: bool = False) -> AdapterVersion | None: ...  # fmt: skip

    def load_adapter(
        self, backend: LLMBackend, home: Home, repo_id: str, newest: bool = False
    ) -> tuple[str, int] | None: ...

    def notes(self, home: Home, repo_id: str) -> str | None: ...

    def bootstrap(
        self, task: BenchTask, checkout: Path, home: Home, config: EngramConfig
    ) -> bool: ...

    def general_eval(self, home: Home, config: EngramConfig, repo_id: str | None,
                     version: int | None, n: int) -> GeneralScore: ...  # fmt: skip

    def repo_eval(self, home: Home, config: EngramConfig, repo: Path, repo_id: str,
                  version: int | None) -> KnowledgeScore: ...  # fmt: skip

    def versions(self, home: Home, repo_id: str) -> list[AdapterVersion]: ...


def _missing(what: str, where: str, exc: ImportError) -> TrackUnavailable:
    return TrackUnavailable(
        f"{what} is not in this engram yet ({where}: {exc}). It comes with memory's `engram "
        "learn`; until it lands, run the tracks that do not need it (resolve, probe)."
    )


class EngramMemory:
    """MemoryOps over memory's own modules (imported lazily, per call)."""

    def __init__(self, progress: Callable[[str], None] | None = None) -> None:
        self._lm = None
        self._lock = threading.Lock()
        # learn's progress lines (training steps, gate) go to the run's log.
        self.progress = progress

    def learn(self, repo: Path, home: Home, config: EngramConfig,
              bootstrap: bool = False) -> AdapterVersion | None:  # fmt: skip
        try:
            from memory.learn import learn
        except ImportError as exc:
            raise _missing("consolidation (`learn`)", "memory.learn", exc) from exc
        return learn(repo, home, config, bootstrap=bootstrap, progress=self.progress)

    def load_adapter(self, backend: LLMBackend, home: Home, repo_id: str,
                     newest: bool = False) -> tuple[str, int] | None:  # fmt: skip
        if not backend.capabilities.adapters:
            raise TrackUnavailable(f"the {backend.name} backend cannot load adapters: the adapter "
                                   "arms need the hf backend (or one with adapters)")  # fmt: skip
        base_hash = getattr(backend, "model_sha256", None)
        if not base_hash:
            raise TrackUnavailable(f"the {backend.name} backend does not say which base model it "
                                   "runs, so no adapter can be checked against it")  # fmt: skip
        from memory.adapter_store import FileAdapterStore

        # The store checks the version was trained on this very base model.
        store = FileAdapterStore(home.adapters)
        version = None
        if newest:
            versions = store.list(repo_id)
            if not versions:
                return None
            version = max(v.version for v in versions)
        handle = store.for_loading(repo_id, base_hash, version)
        if handle is None:
            return None
        name = f"{repo_id}-v{handle.manifest.version}"
        backend.load_adapter(name, handle.path)
        return name, handle.manifest.version

    def notes(self, home: Home, repo_id: str) -> str | None:
        try:
            from memory.notes import notes_for_prompt
        except ImportError as exc:
            raise _missing("repo notes", "memory.notes", exc) from exc
        return notes_for_prompt(home, repo_id)

    def bootstrap(self, task: BenchTask, checkout: Path, home: Home, config: EngramConfig) -> bool:
        try:
            from bench.bootstrap import write_demonstration
        except ImportError as exc:
            raise _missing("bootstrap demonstrations", "bench.bootstrap", exc) from exc
        return write_demonstration(task, checkout, home, config) is not None

    def versions(self, home: Home, repo_id: str) -> list[AdapterVersion]:
        from memory.adapter_store import FileAdapterStore

        return FileAdapterStore(home.adapters).list(repo_id)

    def close(self) -> None:
        """Free the evaluation model (a second copy of the weights beside the backend's)."""
        with self._lock:
            if self._lm is not None:
                self._lm.close()
                self._lm = None

    def _peft_lm(self, config: EngramConfig):
        from memory.peft_lm import PeftLM

        with self._lock:
            if self._lm is None:
                if config.model.threads > 0:  # PeftLM.load leaves threads as they are
                    import torch

                    torch.set_num_threads(config.model.threads)
                self._lm = PeftLM.load(config.model.name, dtype=config.model.dtype,
                                       device=config.model.device)  # fmt: skip
            return self._lm

    def general_eval(self, home: Home, config: EngramConfig, repo_id: str | None,
                     version: int | None, n: int) -> GeneralScore:  # fmt: skip
        from memory.adapter_store import FileAdapterStore
        from memory.general_eval import GeneralEvalConfig, evaluate_general
        from memory.humaneval import scratch_sandbox

        adapter = None
        if version is not None:
            assert repo_id is not None
            adapter = FileAdapterStore(home.adapters).version_path(repo_id, version)
        lm = self._peft_lm(config)
        settings = GeneralEvalConfig(humaneval_n=n)
        if n:
            with scratch_sandbox(config.sandbox) as sandbox:
                result = evaluate_general(lm, sandbox, adapter, settings)
        else:  # held-out loss only: no model-written code to run
            result = evaluate_general(lm, None, adapter, settings)
        human, held = result.humaneval, result.heldout
        return GeneralScore(
            humaneval_passed=human.passed if human else None,
            humaneval_n=human.total if human else None,
            heldout_loss=held.mean_loss if held else None, seconds=result.seconds,
            details={"humaneval_task_ids": human.task_ids if human else [],
                     "heldout_corpus": held.corpus_id if held else None},
        )  # fmt: skip

    def repo_eval(self, home: Home, config: EngramConfig, repo: Path, repo_id: str,
                  version: int | None) -> KnowledgeScore:  # fmt: skip
        try:
            from memory.repo_eval import evaluate_repo
        except ImportError as exc:
            raise _missing("the repo knowledge evaluation", "memory.repo_eval", exc) from exc
        result = evaluate_repo(repo, home, config, repo_id=repo_id, version=version)
        return KnowledgeScore.model_validate(result, from_attributes=True)
