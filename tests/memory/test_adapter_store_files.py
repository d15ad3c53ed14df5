"""FileAdapterStore beyond the contract: layout, crash safety, locking across processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from memory.adapter_store import FileAdapterStore
from memory.base import AdapterMismatch, StoreBusy

from .conftest import BASE_HASH, make_manifest, write_adapter_dir

REPO = "ledger-0123456789ab"
ROOT = Path(__file__).resolve().parents[2]

# Shared prelude of the child processes: a store on argv[1] and a manifest maker.
PRELUDE = textwrap.dedent(
    """
    import sys, time, os
    from pathlib import Path
    from agent.types import AdapterVersion
    import memory.adapter_store as store_mod
    store = store_mod.FileAdapterStore(Path(sys.argv[1]))
    REPO = "ledger-0123456789ab"
    def manifest():
        return AdapterVersion(repo_id=REPO, version=0, base_model_id="tiny/base",
                              base_model_hash="b" * 64)
    """
)


def spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), *map(str, args)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"child exited early: {proc.communicate()}")
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


@pytest.fixture
def store(tmp_path) -> FileAdapterStore:
    return FileAdapterStore(tmp_path / "adapters")


def test_layout_is_peft_files_plus_manifest_and_a_pointer(store, adapter_dir):
    version = store.propose(REPO, adapter_dir, make_manifest(REPO)).version
    store.accept(REPO, version)
    repo_dir = store.root / REPO
    assert sorted(p.name for p in (repo_dir / "v0001").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "manifest.json",
    ]
    manifest = json.loads((repo_dir / "v0001" / "manifest.json").read_text())
    pointer = json.loads((repo_dir / "current").read_text())
    assert (manifest["status"], manifest["peft_config"]["r"], pointer["version"]) == (
        "accepted",
        4,
        1,
    )


def test_default_root_is_engram_home_adapters(isolated_home):
    assert FileAdapterStore().root == isolated_home / "adapters"


def test_a_version_copied_into_another_repo_is_refused_for_loading(store, adapter_dir):
    version = store.propose(REPO, adapter_dir, make_manifest(REPO)).version
    store.accept(REPO, version)
    other = "other-ba9876543210"
    shutil.copytree(store.root / REPO, store.root / other)
    with pytest.raises(AdapterMismatch, match="only ever loaded for its own repository"):
        store.for_loading(other, BASE_HASH)


@pytest.mark.parametrize("kill_point", ["weights", "manifest"])
def test_sigkill_mid_write_leaves_no_visible_partial_version(store, tmp_path, kill_point):
    source = write_adapter_dir(tmp_path / "big", size=1 << 18)  # 1 MiB of weights
    store.accept(REPO, store.propose(REPO, source, make_manifest(REPO)).version)
    marker = tmp_path / "marker"
    child = spawn(
        """
        marker, kill_point = Path(sys.argv[3]), sys.argv[4]
        def stall():
            marker.write_text("mid-write")
            time.sleep(120)
        real_copy, real_manifest = store_mod._copy_file, store_mod._write_manifest_file
        def copy(src, dst):
            if kill_point == "weights" and src.name == "adapter_model.safetensors":
                data = src.read_bytes()
                with open(dst, "wb") as out:
                    out.write(data[: len(data) // 2])
                    out.flush()
                stall()
            real_copy(src, dst)
        def write_manifest(path, m):
            if kill_point == "manifest":
                path.write_text('{"repo_id": ')
                stall()
            real_manifest(path, m)
        store_mod._copy_file, store_mod._write_manifest_file = copy, write_manifest
        store.propose(REPO, Path(sys.argv[2]), manifest())
        """,
        store.root,
        source,
        marker,
        kill_point,
    )
    wait_for(marker, child)
    child.send_signal(signal.SIGKILL)
    child.wait()
    repo_dir = store.root / REPO
    partials = [p.name for p in repo_dir.iterdir() if p.name.endswith(".partial")]
    assert partials, "the child must have died with a half-built version on disk"
    assert [v.version for v in store.list(REPO)] == [1]
    assert store.current(REPO).version == 1


def test_next_proposal_after_a_crash_cleans_up_and_reuses_the_number(store, tmp_path):
    source = write_adapter_dir(tmp_path / "src")
    (store.root / REPO / ".v0001.abc.partial").mkdir(parents=True)
    (store.root / REPO / ".v0001.abc.partial" / "adapter_model.safetensors").write_bytes(b"x")
    version = store.propose(REPO, source, make_manifest(REPO)).version
    assert version == 1
    assert [p.name for p in (store.root / REPO).iterdir() if p.name.startswith(".v")] == []


def test_lock_serialises_two_processes(store, tmp_path):
    log, go = tmp_path / "log", tmp_path / "go"
    script = """
        log, go, tag = Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
        while not go.exists():
            time.sleep(0.01)
        with store.lock(REPO):
            with open(log, "a") as f:
                f.write(f"{tag} start\\n")
            time.sleep(0.6)
            with open(log, "a") as f:
                f.write(f"{tag} end\\n")
        """
    children = [spawn(script, store.root, log, go, tag) for tag in ("A", "B")]
    go.write_text("go")
    for child in children:
        assert child.wait(timeout=120) == 0, child.communicate()
    lines = log.read_text().split()
    events = [lines[i : i + 2] for i in range(0, len(lines), 2)]  # (tag, start|end)
    assert [e[1] for e in events] == ["start", "end", "start", "end"]
    assert events[0][0] == events[1][0] and events[2][0] == events[3][0]


def test_concurrent_proposals_from_two_processes_get_distinct_complete_versions(store, tmp_path):
    source = write_adapter_dir(tmp_path / "src")
    go = tmp_path / "go"
    script = """
        go = Path(sys.argv[3])
        while not go.exists():
            time.sleep(0.01)
        for _ in range(4):
            print(store.propose(REPO, Path(sys.argv[2]), manifest()).version)
        """
    children = [spawn(script, store.root, source, go) for _ in range(2)]
    go.write_text("go")
    got = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        got += [int(x) for x in out.split()]
    assert sorted(got) == list(range(1, 9))
    assert [v.version for v in store.list(REPO)] == list(range(1, 9))


def test_busy_lock_times_out_with_the_holders_pid(tmp_path):
    root = tmp_path / "adapters"
    held = tmp_path / "held"
    child = spawn(
        """
        with store.lock(REPO):
            Path(sys.argv[2]).write_text("held")
            time.sleep(60)
        """,
        root,
        held,
    )
    try:
        wait_for(held, child)
        impatient = FileAdapterStore(root, lock_timeout=0.3)
        with pytest.raises(StoreBusy, match=f"pid {child.pid}"), impatient.lock(REPO):
            pass
    finally:
        child.kill()
        child.wait()


def test_lock_of_a_killed_holder_is_released(tmp_path):
    root = tmp_path / "adapters"
    held = tmp_path / "held"
    child = spawn(
        """
        with store.lock(REPO):
            Path(sys.argv[2]).write_text("held")
            time.sleep(60)
        """,
        root,
        held,
    )
    wait_for(held, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with FileAdapterStore(root, lock_timeout=5).lock(REPO):
        pass


def test_lock_is_reentrant_within_a_thread(store, adapter_dir):
    with store.lock(REPO):
        version = store.propose(REPO, adapter_dir, make_manifest(REPO)).version
        store.accept(REPO, version)
    assert store.current(REPO).version == version


def test_threads_of_one_process_are_serialised_too(store):
    import threading

    events: list[str] = []

    def work(tag: str) -> None:
        with store.lock(REPO):
            events.append(f"{tag} start")
            time.sleep(0.2)
            events.append(f"{tag} end")

    threads = [threading.Thread(target=work, args=(t,)) for t in "AB"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.split()[1] for e in events] == ["start", "end", "start", "end"]


def test_repos_lists_repositories_with_versions(store, adapter_dir):
    store.propose(REPO, adapter_dir, make_manifest(REPO))
    (store.root / "empty-repo").mkdir()
    assert store.repos() == [REPO]


def test_diff_renders_one_line_per_change(store, adapter_dir):
    one = store.propose(REPO, adapter_dir, make_manifest(REPO, edits=["e1"])).version
    store.accept(REPO, one)
    two = store.propose(REPO, adapter_dir, make_manifest(REPO, edits=["e1", "e2"])).version
    lines = store.diff(REPO, one, two).lines()
    assert lines[0] == f"{REPO}: v1 → v2"
    assert "self-edits: +1 −0 (=1)" in lines[1] and any(
        line.strip() == "parent: None → 1" for line in lines
    )
