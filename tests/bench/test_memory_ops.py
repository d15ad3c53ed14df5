"""The memory seam over memory's real adapter store: the adapter arms load the version
the store hands out for the backend's base model, and refuse what they cannot check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.backends.base import BackendCapabilities
from agent.backends.fake import FakeBackend
from agent.home import Home
from agent.types import AdapterVersion
from bench.memory_ops import EngramMemory, TrackUnavailable
from memory.adapter_store import FileAdapterStore
from memory.base import AdapterStoreError

REPO = "stats-0123456789ab"
BASE = "a" * 64


def _adapter(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "peft_type": "LORA"}))
    (folder / "adapter_model.safetensors").write_bytes(b"weights")
    return folder


def _backend(sha: str | None, adapters: bool = True) -> FakeBackend:
    backend = FakeBackend([], model_id="m", capabilities=BackendCapabilities(adapters=adapters))
    if sha is not None:
        backend.model_sha256 = sha
    return backend


@pytest.fixture
def home(tmp_path) -> Home:
    home = Home(root=tmp_path / "home")
    home.ensure()
    return home


def _store_version(home: Home, tmp_path: Path, base: str = BASE) -> int:
    store = FileAdapterStore(home.adapters)
    manifest = AdapterVersion(repo_id=REPO, version=0, base_model_id="m", base_model_hash=base)
    version = store.propose(REPO, _adapter(tmp_path / f"a{base[:4]}"), manifest).version
    store.accept(REPO, version)
    return version


def test_no_adapter_yet_means_the_base_model(home):
    backend = _backend(BASE)
    assert EngramMemory().load_adapter(backend, home, REPO) is None
    assert backend.adapters == {} and EngramMemory().versions(home, REPO) == []


def test_the_current_version_is_loaded_from_the_store(home, tmp_path):
    version = _store_version(home, tmp_path)
    backend = _backend(BASE)
    name, loaded = EngramMemory().load_adapter(backend, home, REPO)
    assert loaded == version and name.endswith(f"v{version}")
    assert backend.adapters[name] == FileAdapterStore(home.adapters).version_path(REPO, version)
    assert [v.version for v in EngramMemory().versions(home, REPO)] == [version]


def test_the_candidate_arm_loads_the_newest_version_even_a_rejected_one(home, tmp_path):
    accepted = _store_version(home, tmp_path)
    store = FileAdapterStore(home.adapters)
    manifest = AdapterVersion(repo_id=REPO, version=0, base_model_id="m", base_model_hash=BASE)
    rejected = store.propose(REPO, _adapter(tmp_path / "newer"), manifest).version
    store.reject(REPO, rejected, reason="HumanEval fell")
    memory = EngramMemory()
    assert memory.load_adapter(_backend(BASE), home, REPO)[1] == accepted
    assert memory.load_adapter(_backend(BASE), home, REPO, newest=True)[1] == rejected


def test_an_adapter_of_another_base_model_is_refused(home, tmp_path):
    _store_version(home, tmp_path, base="b" * 64)
    with pytest.raises(AdapterStoreError, match="base model"):
        EngramMemory().load_adapter(_backend(BASE), home, REPO)


def test_backends_that_cannot_be_checked_or_cannot_load_stop_the_arm(home):
    with pytest.raises(TrackUnavailable, match="cannot load adapters"):
        EngramMemory().load_adapter(_backend(BASE, adapters=False), home, REPO)
    with pytest.raises(TrackUnavailable, match="which base model"):
        EngramMemory().load_adapter(_backend(None), home, REPO)


def test_pieces_not_landed_say_what_is_missing(home, tmp_path, monkeypatch):
    import sys

    # memory.learn has landed; a module that is absent (import fails) still says so.
    monkeypatch.setitem(sys.modules, "memory.learn", None)
    with pytest.raises(TrackUnavailable, match="not in this engram yet"):
        EngramMemory().learn(tmp_path, home, None)
