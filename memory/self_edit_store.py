"""SelfEditStore: the training text of a repository, kept before anything trains on it.

```
ENGRAM_HOME/repos/<repo-id>/self_edits/
  edits/<id>.json      one SelfEdit each (id = content hash), never rewritten
  index.json           {"entries": {id: EditEntry}, "runs": {run_id: UsedRun}}
```

Each entry has a status: `accepted` (trained on), `heldout` (kept aside for the repo
evaluation, never trained on), or `dropped` with the reason (a duplicate, nothing to
learn, …). `runs` records which trajectories were already turned into self-edits, so a
run is used once.

Crash safety: edit files are written (atomically) before the index names them, and the
index is replaced atomically; a kill at any point leaves either the old index or the
new one, and at worst an edit file nobody names yet (harmless; the next `add` of the
same content reuses it). Self-edits are stored before training starts, so a killed
consolidation loses none. Writers are expected to hold the repo's lock
(`FileAdapterStore.lock`); reads take none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field

from agent import atomic
from agent.home import Home
from agent.types import Model, SelfEdit, SelfEditKind, utcnow
from memory.base import check_repo_id

EditStatus = Literal["accepted", "heldout", "dropped"]


class SelfEditStoreError(RuntimeError):
    user_facing = True


class EditEntry(Model):
    id: str
    kind: SelfEditKind
    status: EditStatus
    reason: str = ""
    source: Literal["agent", "bootstrap"] = "agent"
    source_run: str | None = None
    task_id: str | None = Field(default=None, description="demonstrations: the task solved")
    added_at: datetime = Field(default_factory=utcnow)


class UsedRun(Model):
    edits: list[str] = Field(default_factory=list)
    used_at: datetime = Field(default_factory=utcnow)


class EditIndex(Model):
    format_version: int = 1
    entries: dict[str, EditEntry] = Field(default_factory=dict)
    runs: dict[str, UsedRun] = Field(default_factory=dict)


class SelfEditStore:
    def __init__(self, home: Home):
        self.home = home

    def dir(self, repo_id: str) -> Path:
        return self.home.repo_dir(check_repo_id(repo_id)) / "self_edits"

    def _index_path(self, repo_id: str) -> Path:
        return self.dir(repo_id) / "index.json"

    def _edit_path(self, repo_id: str, edit_id: str) -> Path:
        return self.dir(repo_id) / "edits" / f"{edit_id}.json"

    # -- reading ----------------------------------------------------------------

    def index(self, repo_id: str) -> EditIndex:
        path = self._index_path(repo_id)
        try:
            return EditIndex.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return EditIndex()
        except ValueError as exc:
            raise SelfEditStoreError(
                f"{path} is damaged ({exc}); move it aside and run `engram learn` again "
                "(the runs will be turned into self-edits anew)"
            ) from exc

    def entries(self, repo_id: str, status: EditStatus | None = None) -> list[EditEntry]:
        found = self.index(repo_id).entries.values()
        return [e for e in found if status is None or e.status == status]

    def get(self, repo_id: str, edit_id: str) -> SelfEdit:
        path = self._edit_path(repo_id, edit_id)
        return SelfEdit.model_validate_json(path.read_text(encoding="utf-8"))

    def list(self, repo_id: str, status: EditStatus | None = "accepted") -> list[SelfEdit]:
        """The self-edits with `status` (None: all), in the order they were added."""
        chosen = sorted(self.entries(repo_id, status), key=lambda e: (e.added_at, e.id))
        return [self.get(repo_id, e.id) for e in chosen]

    def used_runs(self, repo_id: str) -> set[str]:
        return set(self.index(repo_id).runs)

    # -- writing ----------------------------------------------------------------

    def add(
        self,
        repo_id: str,
        edits: Iterable[tuple[SelfEdit, EditStatus, str]],
        runs: Iterable[str] = (),
        task_ids: dict[str, str] | None = None,
    ) -> list[SelfEdit]:
        """Store `(edit, status, reason)` triples and mark `runs` as used, in one index
        update. An edit already stored (same id) keeps its first status. Returns the
        edits that were new."""
        index = self.index(repo_id)
        new: list[SelfEdit] = []
        for edit, status, reason in edits:
            if edit.repo_id != repo_id:
                raise SelfEditStoreError(f"self-edit {edit.id} belongs to {edit.repo_id}, "
                                         f"not {repo_id}")  # fmt: skip
            if edit.id in index.entries:
                continue
            path = self._edit_path(repo_id, edit.id)
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic.write_text(path, edit.model_dump_json(indent=2) + "\n")
            index.entries[edit.id] = EditEntry(
                id=edit.id, kind=edit.kind, status=status, reason=reason,
                source=edit.source, source_run=edit.source_run,
                task_id=(task_ids or {}).get(edit.id),
            )  # fmt: skip
            new.append(edit)
        for run_id in runs:
            ids = [e.id for e in new if e.source_run == run_id]
            index.runs.setdefault(run_id, UsedRun(edits=ids))
        self._write_index(repo_id, index)
        return new

    def set_status(self, repo_id: str, edit_id: str, status: EditStatus, reason: str = "") -> None:
        index = self.index(repo_id)
        if edit_id not in index.entries:
            raise SelfEditStoreError(f"{repo_id} has no self-edit {edit_id}")
        index.entries[edit_id] = index.entries[edit_id].model_copy(
            update={"status": status, "reason": reason}
        )
        self._write_index(repo_id, index)

    def _write_index(self, repo_id: str, index: EditIndex) -> None:
        path = self._index_path(repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(index.model_dump(mode="json"), indent=2) + "\n")
