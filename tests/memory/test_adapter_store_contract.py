"""The AdapterStore contract (memory/base.py), run against the file store and the fake."""

from __future__ import annotations

import pytest

from agent.types import AdapterStatus, TrainingHyperparams
from memory.adapter_store import FileAdapterStore
from memory.base import (
    AdapterMismatch,
    AdapterStore,
    AdapterStoreError,
    IncompleteAdapter,
    InvalidTransition,
    VersionNotFound,
)
from memory.fake import InMemoryAdapterStore

from .conftest import BASE_HASH, make_manifest, write_adapter_dir

REPO = "ledger-0123456789ab"
OTHER = "other-ba9876543210"


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path) -> AdapterStore:
    if request.param == "file":
        return FileAdapterStore(tmp_path / "adapters")
    return InMemoryAdapterStore()


def propose(store, adapter_dir, repo=REPO, **extra):
    return store.propose(repo, adapter_dir, make_manifest(repo, **extra))


def test_implements_protocol(store):
    assert isinstance(store, AdapterStore)


def test_propose_numbers_versions_from_one_as_candidates(store, adapter_dir):
    first, second = propose(store, adapter_dir), propose(store, adapter_dir)
    assert (first.version, second.version) == (1, 2)
    assert {first.status, second.status} == {AdapterStatus.CANDIDATE}


def test_versions_are_numbered_per_repository(store, adapter_dir):
    propose(store, adapter_dir)
    assert propose(store, adapter_dir, repo=OTHER).version == 1


def test_a_candidate_is_not_current(store, adapter_dir):
    propose(store, adapter_dir)
    assert store.current(REPO) is None


def test_accept_makes_the_version_current(store, adapter_dir):
    version = propose(store, adapter_dir).version
    store.accept(REPO, version, {"repo_eval": 0.5})
    current = store.current(REPO)
    assert (current.version, current.status, current.metrics) == (
        version,
        AdapterStatus.CURRENT,
        {"repo_eval": 0.5},
    )


def test_previous_current_is_reported_accepted_after_a_new_accept(store, adapter_dir):
    one, two = propose(store, adapter_dir).version, propose(store, adapter_dir).version
    store.accept(REPO, one)
    store.accept(REPO, two)
    assert [v.status for v in store.list(REPO)] == [AdapterStatus.ACCEPTED, AdapterStatus.CURRENT]


def test_reject_keeps_the_version_inspectable_with_metrics_and_reason(store, adapter_dir):
    version = propose(store, adapter_dir).version
    store.reject(REPO, version, {"humaneval": 0.1}, reason="general eval regressed")
    got = store.get(REPO, version)
    assert got.status == AdapterStatus.REJECTED
    assert got.metrics == {"humaneval": 0.1} and "general eval regressed" in got.notes


def test_metrics_merge_across_updates(store, adapter_dir):
    version = propose(store, adapter_dir, metrics={"train_loss": 1.0}).version
    store.accept(REPO, version, {"repo_eval": 0.7})
    assert store.get(REPO, version).metrics == {"train_loss": 1.0, "repo_eval": 0.7}


def test_rejected_version_cannot_be_accepted(store, adapter_dir):
    version = propose(store, adapter_dir).version
    store.reject(REPO, version)
    with pytest.raises(InvalidTransition):
        store.accept(REPO, version)


def test_only_candidates_can_be_rejected(store, adapter_dir):
    version = propose(store, adapter_dir).version
    store.accept(REPO, version)
    with pytest.raises(InvalidTransition):
        store.reject(REPO, version)


def test_rollback_moves_the_pointer_to_an_accepted_version(store, adapter_dir):
    one, two = propose(store, adapter_dir).version, propose(store, adapter_dir).version
    store.accept(REPO, one)
    store.accept(REPO, two)
    store.rollback(REPO, one)
    assert store.current(REPO).version == one


def test_rollback_to_none_means_the_base_model(store, adapter_dir):
    store.accept(REPO, propose(store, adapter_dir).version)
    store.rollback(REPO, None)
    assert store.current(REPO) is None


@pytest.mark.parametrize("status", ["candidate", "rejected"])
def test_rollback_refuses_versions_that_were_not_accepted(store, adapter_dir, status):
    version = propose(store, adapter_dir).version
    if status == "rejected":
        store.reject(REPO, version)
    with pytest.raises(InvalidTransition):
        store.rollback(REPO, version)


def test_parent_defaults_to_the_current_version(store, adapter_dir):
    first = propose(store, adapter_dir).version
    store.accept(REPO, first)
    assert propose(store, adapter_dir).parent == first


def test_get_unknown_version_raises(store):
    with pytest.raises(VersionNotFound):
        store.get(REPO, 7)


def test_list_is_empty_for_an_unknown_repo(store):
    assert store.list(REPO) == []


def test_manifest_for_another_repo_is_refused(store, adapter_dir):
    with pytest.raises(AdapterMismatch):
        store.propose(REPO, adapter_dir, make_manifest(OTHER))


def test_folder_without_peft_files_is_refused(store, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IncompleteAdapter):
        store.propose(REPO, tmp_path / "empty", make_manifest(REPO))


@pytest.mark.parametrize("repo_id", ["../escape", ".hidden", "a/b", ""])
def test_unsafe_repo_ids_are_refused(store, adapter_dir, repo_id):
    with pytest.raises(AdapterStoreError):
        store.list(repo_id)


def test_diff_reports_data_hyperparameter_and_metric_changes(store, adapter_dir):
    one = propose(store, adapter_dir, edits=["e1", "e2"], metrics={"loss": 1.0}).version
    two = propose(
        store,
        adapter_dir,
        edits=["e2", "e3"],
        metrics={"loss": 0.5},
        hyperparameters=TrainingHyperparams(learning_rate=5e-5),
    ).version
    diff = store.diff(REPO, one, two)
    assert (diff.self_edits_added, diff.self_edits_removed, diff.self_edits_kept) == (
        ["e3"],
        ["e1"],
        1,
    )
    assert diff.hyperparameters["learning_rate"].model_dump() == {"before": 1e-4, "after": 5e-5}
    assert diff.metrics["loss"].model_dump() == {"before": 1.0, "after": 0.5}


def test_diff_of_a_version_with_itself_is_empty(store, adapter_dir):
    version = propose(store, adapter_dir, edits=["e1"]).version
    assert store.diff(REPO, version, version).empty


def test_for_loading_returns_the_current_adapter_files(store, adapter_dir):
    version = propose(store, adapter_dir).version
    store.accept(REPO, version)
    handle = store.for_loading(REPO, BASE_HASH)
    assert handle.manifest.version == version
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (handle.path / name).read_bytes() == (adapter_dir / name).read_bytes()


def test_for_loading_without_current_gives_none(store, adapter_dir):
    propose(store, adapter_dir)
    assert store.for_loading(REPO, BASE_HASH) is None


def test_for_loading_refuses_another_base_model(store, adapter_dir):
    store.accept(REPO, propose(store, adapter_dir).version)
    with pytest.raises(AdapterMismatch, match="base model"):
        store.for_loading(REPO, "c" * 64)


def test_stored_files_do_not_change_when_the_source_folder_does(store, tmp_path):
    source = write_adapter_dir(tmp_path / "src", seed=1)
    version = propose(store, source).version
    original = (source / "adapter_model.safetensors").read_bytes()
    write_adapter_dir(source, seed=2)
    store.accept(REPO, version)
    handle = store.for_loading(REPO, BASE_HASH)
    assert (handle.path / "adapter_model.safetensors").read_bytes() == original


def test_accept_records_the_gates_reason(store, adapter_dir):
    version = propose(store, adapter_dir).version
    store.accept(REPO, version, note="repo loss 1.0 → 0.5")
    assert store.get(REPO, version).notes.endswith("accepted: repo loss 1.0 → 0.5")
