"""`engram bench run --adapter DIR`: one adapter version for every task, whatever its repo."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from agent.backends.fake import FakeBackend
from agent.types import AdapterStatus, AdapterVersion
from bench.arms import FixedAdapterHook
from bench.results import BenchRunError
from bench.runner import TaskContext


def version_dir(root: Path, base_hash: str = "base-sha") -> Path:
    path = root / "adapters" / "repo-ledger" / "v0002"
    path.mkdir(parents=True)
    (path / "adapter_model.safetensors").write_bytes(b"weights")
    manifest = AdapterVersion(repo_id="repo-ledger", version=2, base_model_id="qwen",
                              base_model_hash=base_hash, status=AdapterStatus.ACCEPTED)  # fmt: skip
    (path / "manifest.json").write_text(manifest.model_dump_json())
    return path


def context(backend: FakeBackend, repo_id: str) -> TaskContext:
    handles = SimpleNamespace(adapter=None, adapter_version=None)
    return TaskContext(task=None, checkout=Path("/x"), repo_id=repo_id, backend=backend,
                       handles=handles, config=None, home=None)  # fmt: skip


def backend(base_hash: str = "base-sha") -> FakeBackend:
    fake = FakeBackend(["…"])
    fake.model_sha256 = base_hash
    return fake


def test_every_task_of_any_repo_runs_with_the_given_version(tmp_path):
    path = version_dir(tmp_path)
    hook, model = FixedAdapterHook(path), backend()
    contexts = [context(model, "repo-toolz"), context(model, "repo-ledger")]
    for ctx in contexts:
        hook.before(ctx)
    assert model.adapters == {"repo-ledger-v2": path}  # loaded once for the shared backend
    for ctx in contexts:
        assert (ctx.handles.adapter, ctx.handles.adapter_version) == ("repo-ledger-v2", 2)
        assert ctx.extras == {"adapter_version": 2, "adapter_repo": "repo-ledger"}


def test_an_adapter_of_another_base_model_stops_the_run(tmp_path):
    hook = FixedAdapterHook(version_dir(tmp_path, base_hash="other-sha"))
    with pytest.raises(BenchRunError, match="another base model") as refused:
        hook.before(context(backend(), "repo-toolz"))
    assert refused.value.stops_run  # the cell stops; not one harness error per task


def test_a_folder_that_is_not_an_adapter_version_is_refused(tmp_path):
    with pytest.raises(BenchRunError, match="not an adapter version"):
        FixedAdapterHook(tmp_path)
