"""In-memory fakes of memory's protocols, for tests of the logic that sits above them.

`InMemoryAdapterStore` keeps manifests and adapter file bytes in dictionaries and
applies the same rules as the file store (they live in `memory.base`). `for_loading`
writes the files out to a private temporary folder, because whatever loads an adapter
(PEFT) reads from a path.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from agent.types import AdapterVersion
from memory.base import (
    ADAPTER_CONFIG,
    MANIFEST,
    AdapterDiff,
    AdapterHandle,
    VersionNotFound,
    accepted,
    as_reported,
    check_adapter_dir,
    check_loadable,
    check_repo_id,
    check_rollback_target,
    compute_diff,
    new_candidate,
    rejected,
)


class InMemoryAdapterStore:
    def __init__(self) -> None:
        self._manifests: dict[str, dict[int, AdapterVersion]] = {}
        self._files: dict[tuple[str, int], dict[str, bytes]] = {}
        self._pointers: dict[str, int | None] = {}
        self._lock = threading.RLock()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def _read(self, repo_id: str, version: int) -> AdapterVersion:
        try:
            return self._manifests[check_repo_id(repo_id)][version]
        except KeyError:
            raise VersionNotFound(f"{repo_id} has no adapter v{version}") from None

    def propose(self, repo_id: str, adapter_dir: Path, manifest: AdapterVersion) -> AdapterVersion:
        check_repo_id(repo_id)
        check_adapter_dir(adapter_dir)
        files = {
            p.name: p.read_bytes()
            for p in sorted(adapter_dir.iterdir())
            if p.is_file() and p.name != MANIFEST
        }
        peft_config = json.loads(files[ADAPTER_CONFIG])
        with self._lock:
            versions = self._manifests.setdefault(repo_id, {})
            version = max(versions, default=0) + 1
            stored = new_candidate(
                repo_id, manifest, version, self._pointers.get(repo_id), peft_config
            )
            versions[version] = stored
            self._files[(repo_id, version)] = files
            return stored

    def accept(
        self,
        repo_id: str,
        version: int,
        metrics: Mapping[str, float] | None = None,
        note: str = "",
    ) -> AdapterVersion:
        with self._lock:
            updated = accepted(self._read(repo_id, version), metrics, note)
            self._manifests[repo_id][version] = updated
            self._pointers[repo_id] = version
            return as_reported(updated, version)

    def reject(
        self,
        repo_id: str,
        version: int,
        metrics: Mapping[str, float] | None = None,
        reason: str = "",
    ) -> AdapterVersion:
        with self._lock:
            updated = rejected(self._read(repo_id, version), metrics, reason)
            self._manifests[repo_id][version] = updated
            return as_reported(updated, self._pointers.get(repo_id))

    def current(self, repo_id: str) -> AdapterVersion | None:
        pointer = self._pointers.get(check_repo_id(repo_id))
        return None if pointer is None else self.get(repo_id, pointer)

    def list(self, repo_id: str) -> list[AdapterVersion]:
        pointer = self._pointers.get(check_repo_id(repo_id))
        versions = self._manifests.get(repo_id, {})
        return [as_reported(versions[v], pointer) for v in sorted(versions)]

    def get(self, repo_id: str, version: int) -> AdapterVersion:
        return as_reported(self._read(repo_id, version), self._pointers.get(repo_id))

    def rollback(self, repo_id: str, version: int | None) -> AdapterVersion | None:
        with self._lock:
            if version is None:
                self._pointers[check_repo_id(repo_id)] = None
                return None
            target = self._read(repo_id, version)
            check_rollback_target(target)
            self._pointers[repo_id] = version
            return as_reported(target, version)

    def diff(self, repo_id: str, a: int, b: int) -> AdapterDiff:
        return compute_diff(self.get(repo_id, a), self.get(repo_id, b))

    def for_loading(
        self, repo_id: str, base_model_hash: str, version: int | None = None
    ) -> AdapterHandle | None:
        manifest = self.current(repo_id) if version is None else self.get(repo_id, version)
        if manifest is None:
            return None
        check_loadable(manifest, repo_id, base_model_hash)
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="engram-fake-adapters-")
        path = Path(self._scratch.name) / repo_id / f"v{manifest.version:04d}"
        path.mkdir(parents=True, exist_ok=True)
        for name, data in self._files[(repo_id, manifest.version)].items():
            (path / name).write_bytes(data)
        (path / MANIFEST).write_text(manifest.model_dump_json(indent=2))
        return AdapterHandle(manifest=manifest, path=path)
