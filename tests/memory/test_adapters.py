"""load_current_adapter: the repo's own current version, checked, and never another repo's."""

from __future__ import annotations

import shutil

import pytest

from agent.backends.base import BackendCapabilities
from agent.backends.fake import FakeBackend
from agent.home import Home
from memory.adapter_store import FileAdapterStore
from memory.adapters import load_current_adapter
from memory.base import AdapterMismatch, AdapterStoreError
from tests.memory.conftest import BASE_HASH, make_manifest, write_adapter_dir


def backend(sha: str | None = BASE_HASH, adapters: bool = True) -> FakeBackend:
    fake = FakeBackend([], capabilities=BackendCapabilities(adapters=adapters))
    fake.model_sha256 = sha
    return fake


def accepted_version(home: Home, repo_id: str, tmp_path, seed: int = 0) -> int:
    store = FileAdapterStore(home.adapters)
    folder = write_adapter_dir(tmp_path / f"a-{repo_id}-{seed}", seed=seed)
    version = store.propose(repo_id, folder, make_manifest(repo_id)).version
    store.accept(repo_id, version)
    return version


def test_loads_the_current_version_by_repo_named_name(tmp_path):
    home = Home(tmp_path / "home")
    accepted_version(home, "repo-a", tmp_path)
    accepted_version(home, "repo-a", tmp_path, seed=1)
    fake = backend()
    assert load_current_adapter(fake, home, "repo-a") == ("repo-a-v2", 2)
    assert fake.adapters["repo-a-v2"] == FileAdapterStore(home.adapters).version_path("repo-a", 2)


def test_another_repos_adapter_is_never_loaded(tmp_path):
    home = Home(tmp_path / "home")
    accepted_version(home, "repo-a", tmp_path)
    fake = backend()
    assert load_current_adapter(fake, home, "repo-b") is None
    assert fake.adapters == {}
    # A version folder copied into repo-b's store (pointer and all) is refused.
    store = FileAdapterStore(home.adapters)
    shutil.copytree(store.repo_dir("repo-a"), store.repo_dir("repo-b"))
    with pytest.raises(AdapterMismatch, match="trained for repo 'repo-a'"):
        load_current_adapter(fake, home, "repo-b")
    assert fake.adapters == {}


def test_other_base_model_is_refused(tmp_path):
    home = Home(tmp_path / "home")
    accepted_version(home, "repo-a", tmp_path)
    with pytest.raises(AdapterMismatch, match="base model"):
        load_current_adapter(backend(sha="c" * 64), home, "repo-a")


def test_rolled_back_to_base_loads_nothing(tmp_path):
    home = Home(tmp_path / "home")
    accepted_version(home, "repo-a", tmp_path)
    FileAdapterStore(home.adapters).rollback("repo-a", None)
    assert load_current_adapter(backend(), home, "repo-a") is None


def test_backend_without_adapters_or_identity(tmp_path):
    home = Home(tmp_path / "home")
    accepted_version(home, "repo-a", tmp_path)
    assert load_current_adapter(backend(adapters=False), home, "repo-a") is None
    with pytest.raises(AdapterStoreError, match="--no-adapter"):
        load_current_adapter(backend(sha=None), home, "repo-a")
