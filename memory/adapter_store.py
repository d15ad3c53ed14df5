"""FileAdapterStore: adapter versions on disk, one folder per version, PEFT layout.

```
ENGRAM_HOME/adapters/<repo-id>/
  .lock                      flock target; holds the pid of the last holder
  current                    the pointer: {"version": 3, "previous": 2, "reason": …}
  v0001/                     one version, never modified except its manifest
    adapter_config.json      PEFT's files, exactly as `save_pretrained` wrote them
    adapter_model.safetensors
    manifest.json            AdapterVersion (status, metrics, data hashes, …)
  v0002/ …
```

Atomicity: a version is assembled in a hidden `.vNNNN.*.partial` folder (files fsynced)
and renamed into place; readers only look at `vNNNN` names, so a crash leaves nothing
visible and the next writer removes the leftover. The manifest and the pointer are
replaced with write-to-temporary + rename. Every write holds the repository's lock
(`repo_lock.exclusive`), and `lock(repo)` lets a whole consolidation hold it.

Reads take no lock: every file they read is replaced atomically.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from agent import atomic
from agent.types import FORMAT_VERSION, AdapterVersion, utcnow
from memory import repo_lock
from memory.base import (
    ADAPTER_CONFIG,
    MANIFEST,
    REQUIRED_FILES,
    AdapterDiff,
    AdapterHandle,
    AdapterStoreError,
    StoreBusy,
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

POINTER = "current"
LOCK = ".lock"
_VERSION_DIR = re.compile(r"^v(\d{4,})$")
_CHUNK = 1 << 20


def version_dir_name(version: int) -> str:
    return f"v{version:04d}"


def _copy_file(src: Path, dst: Path) -> None:
    """Copy and fsync, so a renamed-in version never holds a file still in the page cache."""
    with open(src, "rb") as reader, open(dst, "wb") as writer:
        while chunk := reader.read(_CHUNK):
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())


def _write_manifest_file(path: Path, manifest: AdapterVersion) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(manifest.model_dump_json(indent=2) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


class FileAdapterStore:
    """The on-disk AdapterStore. `root` defaults to `ENGRAM_HOME/adapters`."""

    def __init__(self, root: Path | None = None, lock_timeout: float | None = 600.0):
        if root is None:
            from agent.home import Home

            root = Home.resolve().adapters
        self.root = root
        self.lock_timeout = lock_timeout

    # -- layout ---------------------------------------------------------------

    def repo_dir(self, repo_id: str) -> Path:
        return self.root / check_repo_id(repo_id)

    def version_path(self, repo_id: str, version: int) -> Path:
        return self.repo_dir(repo_id) / version_dir_name(version)

    def repos(self) -> list[str]:
        """Repo ids that have at least one visible version."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._versions(p))

    @contextmanager
    def lock(self, repo_id: str, timeout: float | None = None) -> Iterator[None]:
        """Exclusive per-repo lock; re-entrant in one thread, so callers may hold it around
        a whole consolidation and still call `propose`/`accept` inside."""
        path = self.repo_dir(repo_id) / LOCK

        def busy(p: Path) -> Exception:
            pid = repo_lock.holder_pid(p)
            who = f" (pid {pid})" if pid else ""
            return StoreBusy(
                f"another engram process{who} is consolidating or updating adapters for "
                f"{repo_id}; wait for it to finish and try again"
            )

        wait = self.lock_timeout if timeout is None else timeout
        with repo_lock.exclusive(path, timeout=wait, on_busy=busy):
            yield

    # -- reading --------------------------------------------------------------

    @staticmethod
    def _versions(repo_dir: Path) -> list[int]:
        if not repo_dir.is_dir():
            return []
        found = []
        for entry in repo_dir.iterdir():
            match = _VERSION_DIR.match(entry.name)
            if match and entry.is_dir():
                found.append(int(match.group(1)))
        return sorted(found)

    def _read_manifest(self, repo_id: str, version: int) -> AdapterVersion:
        path = self.version_path(repo_id, version) / MANIFEST
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise VersionNotFound(
                f"{repo_id} has no adapter v{version}; `engram memory list` shows the versions"
            ) from None
        try:
            data = json.loads(raw)
            if int(data.get("format_version", 0)) > FORMAT_VERSION:
                raise AdapterStoreError(
                    f"{path} was written by a newer engram (format "
                    f"{data['format_version']}); upgrade engram to read it"
                )
            return AdapterVersion.model_validate(data)
        except (json.JSONDecodeError, ValidationError) as exc:
            raise AdapterStoreError(f"{path} is not a valid adapter manifest: {exc}") from exc

    def _pointer(self, repo_id: str) -> int | None:
        path = self.repo_dir(repo_id) / POINTER
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise AdapterStoreError(
                f"{path} is not valid JSON ({exc}); set it again with `engram memory rollback`"
            ) from exc
        version = data.get("version")
        return int(version) if version is not None else None

    def get(self, repo_id: str, version: int) -> AdapterVersion:
        return as_reported(self._read_manifest(repo_id, version), self._pointer(repo_id))

    def list(self, repo_id: str) -> list[AdapterVersion]:
        pointer = self._pointer(repo_id)
        return [
            as_reported(self._read_manifest(repo_id, v), pointer)
            for v in self._versions(self.repo_dir(repo_id))
        ]

    def current(self, repo_id: str) -> AdapterVersion | None:
        pointer = self._pointer(repo_id)
        if pointer is None:
            return None
        try:
            return self.get(repo_id, pointer)
        except VersionNotFound:
            raise AdapterStoreError(
                f"the current pointer of {repo_id} names v{pointer}, which does not exist; "
                "point it at an existing version with `engram memory rollback`"
            ) from None

    def diff(self, repo_id: str, a: int, b: int) -> AdapterDiff:
        return compute_diff(self.get(repo_id, a), self.get(repo_id, b))

    def for_loading(
        self, repo_id: str, base_model_hash: str, version: int | None = None
    ) -> AdapterHandle | None:
        manifest = self.current(repo_id) if version is None else self.get(repo_id, version)
        if manifest is None:
            return None
        check_loadable(manifest, repo_id, base_model_hash)
        path = self.version_path(repo_id, manifest.version)
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise AdapterStoreError(f"{path} lacks {', '.join(missing)}; the version is damaged")
        return AdapterHandle(manifest=manifest, path=path)

    # -- writing --------------------------------------------------------------

    def _set_pointer(self, repo_id: str, version: int | None, reason: str) -> None:
        previous = self._pointer(repo_id)
        payload = {
            "version": version,
            "previous": previous,
            "reason": reason,
            "updated_at": utcnow().isoformat(),
        }
        atomic.write_text(self.repo_dir(repo_id) / POINTER, json.dumps(payload, indent=2) + "\n")

    def _write_manifest(self, manifest: AdapterVersion) -> None:
        path = self.version_path(manifest.repo_id, manifest.version) / MANIFEST
        atomic.write_text(path, manifest.model_dump_json(indent=2) + "\n")

    def propose(self, repo_id: str, adapter_dir: Path, manifest: AdapterVersion) -> AdapterVersion:
        check_repo_id(repo_id)
        check_adapter_dir(adapter_dir)
        peft_config = json.loads((adapter_dir / ADAPTER_CONFIG).read_text(encoding="utf-8"))
        with self.lock(repo_id):
            repo_dir = self.repo_dir(repo_id)
            repo_dir.mkdir(parents=True, exist_ok=True)
            # Holding the lock, nobody else is building: any partial is a dead writer's.
            atomic.remove_stale_partials(repo_dir)
            existing = self._versions(repo_dir)
            version = (existing[-1] if existing else 0) + 1
            stored = new_candidate(repo_id, manifest, version, self._pointer(repo_id), peft_config)
            final = repo_dir / version_dir_name(version)
            with atomic.building_dir(final) as tmp:
                for entry in sorted(adapter_dir.iterdir()):
                    # PEFT's flat layout (config, weights, README); nested folders would be
                    # other adapters saved alongside, which a version never holds.
                    if entry.is_file() and entry.name != MANIFEST:
                        _copy_file(entry, tmp / entry.name)
                _write_manifest_file(tmp / MANIFEST, stored)
            return stored

    def accept(
        self,
        repo_id: str,
        version: int,
        metrics: Mapping[str, float] | None = None,
        note: str = "",
    ) -> AdapterVersion:
        with self.lock(repo_id):
            updated = accepted(self._read_manifest(repo_id, version), metrics, note)
            # Manifest first: the pointer must never name a version not marked accepted.
            self._write_manifest(updated)
            self._set_pointer(repo_id, version, reason="accept")
            return as_reported(updated, version)

    def reject(
        self,
        repo_id: str,
        version: int,
        metrics: Mapping[str, float] | None = None,
        reason: str = "",
    ) -> AdapterVersion:
        with self.lock(repo_id):
            updated = rejected(self._read_manifest(repo_id, version), metrics, reason)
            self._write_manifest(updated)
            return as_reported(updated, self._pointer(repo_id))

    def rollback(self, repo_id: str, version: int | None) -> AdapterVersion | None:
        with self.lock(repo_id):
            if version is None:
                self._set_pointer(repo_id, None, reason="rollback to base model")
                return None
            target = self._read_manifest(repo_id, version)
            check_rollback_target(target)
            self._set_pointer(repo_id, version, reason="rollback")
            return as_reported(target, version)
