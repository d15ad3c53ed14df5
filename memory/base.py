"""The AdapterStore protocol: adapter versions per repository, and the `current` pointer.

Contract (checked by `tests/memory/test_adapter_store_contract.py` against every
implementation):

- `propose(repo, adapter_dir, manifest)` copies a PEFT adapter folder in as a new
  *candidate* version and returns its manifest. The store assigns `version` (1, 2, …
  per repo, never reused once visible), `status` and `repo_id`; `parent` defaults to the
  version that is current at proposal time. A version is visible completely or not at all.
- Stored statuses are candidate, accepted and rejected. The version the pointer names is
  *reported* with status `current` (it is always an accepted one).
- `accept` promotes a candidate (or re-promotes an accepted version): it becomes
  accepted and current. `reject` marks a candidate rejected; it stays inspectable.
  Metrics given to either are merged into the manifest.
- `rollback(repo, version)` moves the pointer to an accepted version, or to None (the
  base model, no adapter). Rejected and candidate versions cannot become current.
- `for_loading(repo, base_model_hash)` is the only way to obtain files to load: it
  refuses an adapter made for another repository or another base model.

Not guaranteed: ordering between two stores on different file systems; the in-memory
fake keeps nothing across processes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent.types import AdapterStatus, AdapterVersion, Model

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MANIFEST = "manifest.json"
REQUIRED_FILES = (ADAPTER_CONFIG, ADAPTER_WEIGHTS)

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class AdapterStoreError(RuntimeError):
    """The adapter store cannot do what was asked; the message says what to do next."""

    user_facing = True


class VersionNotFound(AdapterStoreError):
    pass


class InvalidTransition(AdapterStoreError):
    """E.g. accepting a rejected version, or rolling back to a candidate."""


class AdapterMismatch(AdapterStoreError):
    """The adapter was trained for another repository or another base model."""


class IncompleteAdapter(AdapterStoreError):
    """The folder given to `propose` is not a PEFT adapter (files missing)."""


class StoreBusy(AdapterStoreError):
    """Another process holds the repository's lock (a consolidation is running)."""


@dataclass(frozen=True)
class AdapterHandle:
    """A version checked for loading: its manifest and the folder PEFT loads from."""

    manifest: AdapterVersion
    path: Path


class ValueChange(Model):
    before: Any = None
    after: Any = None


class AdapterDiff(Model):
    """What changed from version `a` to version `b` of one repository's adapter."""

    repo_id: str
    a: int
    b: int
    self_edits_added: list[str]
    self_edits_removed: list[str]
    self_edits_kept: int
    hyperparameters: dict[str, ValueChange]
    metrics: dict[str, ValueChange]
    other: dict[str, ValueChange]

    @property
    def empty(self) -> bool:
        return not (
            self.self_edits_added
            or self.self_edits_removed
            or self.hyperparameters
            or self.metrics
            or self.other
        )

    def lines(self) -> list[str]:
        """Human-readable summary, one change per line."""
        out = [f"{self.repo_id}: v{self.a} → v{self.b}"]
        out.append(
            f"  self-edits: +{len(self.self_edits_added)} −{len(self.self_edits_removed)} "
            f"(={self.self_edits_kept})"
        )
        for title, changes in (
            ("hyperparameter", self.hyperparameters),
            ("metric", self.metrics),
            ("", self.other),
        ):
            for key, change in sorted(changes.items()):
                label = f"{title} {key}".strip()
                out.append(f"  {label}: {change.before!r} → {change.after!r}")
        return out


@runtime_checkable
class AdapterStore(Protocol):
    def propose(
        self, repo_id: str, adapter_dir: Path, manifest: AdapterVersion
    ) -> AdapterVersion: ...

    def accept(
        self,
        repo_id: str,
        version: int,
        metrics: Mapping[str, float] | None = None,
        note: str = "",
    ) -> AdapterVersion: ...

    def reject(
        self,
        repo_id: str,
        version: int,
        metrics: Mapping[str, float] | None = None,
        reason: str = "",
    ) -> AdapterVersion: ...

    def current(self, repo_id: str) -> AdapterVersion | None: ...

    def list(self, repo_id: str) -> list[AdapterVersion]: ...

    def get(self, repo_id: str, version: int) -> AdapterVersion: ...

    def rollback(self, repo_id: str, version: int | None) -> AdapterVersion | None: ...

    def diff(self, repo_id: str, a: int, b: int) -> AdapterDiff: ...

    def for_loading(
        self, repo_id: str, base_model_hash: str, version: int | None = None
    ) -> AdapterHandle | None: ...


# --------------------------------------------------------------------------- shared rules
# Both implementations apply exactly these, so the fake cannot drift from the real store.


def check_repo_id(repo_id: str) -> str:
    """Repo ids become directory names: refuse anything that could escape or hide."""
    if not _REPO_ID.match(repo_id or ""):
        raise AdapterStoreError(
            f"invalid repo id {repo_id!r}: use the id from `sandboxes.repo.repo_identity` "
            "(letters, digits, '.', '_' and '-')"
        )
    return repo_id


def check_adapter_dir(adapter_dir: Path) -> None:
    missing = [name for name in REQUIRED_FILES if not (adapter_dir / name).is_file()]
    if missing:
        raise IncompleteAdapter(
            f"{adapter_dir} is not a PEFT adapter folder (missing {', '.join(missing)}); "
            "save the trained model with `save_pretrained` first"
        )


def new_candidate(
    repo_id: str, manifest: AdapterVersion, version: int, current: int | None, peft_config: dict
) -> AdapterVersion:
    """The manifest as stored for a fresh proposal (store-owned fields overwritten)."""
    if manifest.repo_id != repo_id:
        raise AdapterMismatch(
            f"manifest is for repo {manifest.repo_id!r} but was proposed for {repo_id!r}"
        )
    if not manifest.base_model_hash:
        raise AdapterStoreError("manifest has no base_model_hash; record the base model's hash")
    return manifest.model_copy(
        update={
            "version": version,
            "status": AdapterStatus.CANDIDATE,
            "parent": manifest.parent if manifest.parent is not None else current,
            "peft_config": manifest.peft_config or peft_config,
        }
    )


def accepted(
    manifest: AdapterVersion, metrics: Mapping[str, float] | None, note: str = ""
) -> AdapterVersion:
    if manifest.status == AdapterStatus.REJECTED:
        raise InvalidTransition(
            f"v{manifest.version} of {manifest.repo_id} was rejected; it cannot be accepted. "
            "Consolidate again to make a new candidate."
        )
    return manifest.model_copy(
        update={
            "status": AdapterStatus.ACCEPTED,
            "metrics": {**manifest.metrics, **dict(metrics or {})},
            "notes": f"{manifest.notes}\naccepted: {note}".strip() if note else manifest.notes,
        }
    )


def rejected(
    manifest: AdapterVersion, metrics: Mapping[str, float] | None, reason: str
) -> AdapterVersion:
    if manifest.status != AdapterStatus.CANDIDATE:
        raise InvalidTransition(
            f"v{manifest.version} of {manifest.repo_id} is {manifest.status.value}; only "
            "candidates can be rejected (use rollback to stop using an accepted version)"
        )
    notes = f"{manifest.notes}\nrejected: {reason}".strip() if reason else manifest.notes
    return manifest.model_copy(
        update={
            "status": AdapterStatus.REJECTED,
            "metrics": {**manifest.metrics, **dict(metrics or {})},
            "notes": notes,
        }
    )


def check_rollback_target(manifest: AdapterVersion) -> None:
    if manifest.status != AdapterStatus.ACCEPTED:
        raise InvalidTransition(
            f"v{manifest.version} of {manifest.repo_id} is {manifest.status.value}; only "
            "accepted versions can become current"
        )


def as_reported(manifest: AdapterVersion, current: int | None) -> AdapterVersion:
    if current is not None and manifest.version == current:
        return manifest.model_copy(update={"status": AdapterStatus.CURRENT})
    return manifest


def check_loadable(manifest: AdapterVersion, repo_id: str, base_model_hash: str) -> None:
    if manifest.repo_id != repo_id:
        raise AdapterMismatch(
            f"adapter v{manifest.version} was trained for repo {manifest.repo_id!r}, not "
            f"{repo_id!r}; an adapter is only ever loaded for its own repository"
        )
    if manifest.base_model_hash != base_model_hash:
        raise AdapterMismatch(
            f"adapter v{manifest.version} of {repo_id} was trained on base model "
            f"{manifest.base_model_id} ({manifest.base_model_hash[:12]}), but the loaded model "
            f"is {base_model_hash[:12]}. Use that base model, or consolidate again on this one."
        )


def compute_diff(a: AdapterVersion, b: AdapterVersion) -> AdapterDiff:
    def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, ValueChange]:
        keys = set(before) | set(after)
        return {
            k: ValueChange(before=before.get(k), after=after.get(k))
            for k in keys
            if before.get(k) != after.get(k)
        }

    edits_a, edits_b = set(a.self_edit_hashes), set(b.self_edit_hashes)
    other_a = {
        "base_model_id": a.base_model_id,
        "base_model_hash": a.base_model_hash,
        "method": a.method,
        "parent": a.parent,
        "status": a.status.value,
    }
    other_b = {
        "base_model_id": b.base_model_id,
        "base_model_hash": b.base_model_hash,
        "method": b.method,
        "parent": b.parent,
        "status": b.status.value,
    }
    return AdapterDiff(
        repo_id=a.repo_id,
        a=a.version,
        b=b.version,
        self_edits_added=sorted(edits_b - edits_a),
        self_edits_removed=sorted(edits_a - edits_b),
        self_edits_kept=len(edits_a & edits_b),
        hyperparameters=changes(
            a.hyperparameters.model_dump(mode="json"), b.hyperparameters.model_dump(mode="json")
        ),
        metrics=changes(a.metrics, b.metrics),
        other=changes(other_a, other_b),
    )
