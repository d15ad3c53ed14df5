"""A repository's model with its LoRA adapter merged into the weights: one GGUF per
adapter version, built once and cached, for the llamacpp backend's `merged` mode.

Applying a LoRA at runtime costs llama.cpp two extra small matmuls per adapted module
per token (24 layers × 7 projections for the embedded model): about 14 % of decode
speed, measured in docs/llamacpp.md. A merged model decodes at the base model's speed,
at the price of a model file per adapter version (as large as the base) and a model
load when switching repositories.

The build, from the base model's converted HF folder (`<models>/<name>/hf/`, the bf16
weights the GGUF was made from):

1. **merge** — PEFT's `merge_and_unload` in float32 (W + B·A·alpha/r), saved as float16
   (bfloat16 if a weight would overflow float16), with the base's tokenizer files;
   run in a subprocess so torch never loads in the caller;
2. **convert** — llama.cpp's own `convert_hf_to_gguf.py` of the installed
   llama-cpp-python version (`llamacpp_tools`), to a float16 GGUF;
3. **quantize** — `llama_model_quantize` to the base GGUF's file type (Q4_K_M for the
   embedded model: the same per-tensor mix as the base, tested).

The result is cached next to the adapter: `merged.<TYPE>.gguf` in the adapter's folder
(an adapter version of the store) with `merged.<TYPE>.gguf.json` saying what it was made
from (digest of the adapter's config and weights, the base GGUF's sha256, the file type,
the llama-cpp-python version); a changed source is built again. Where the adapter folder
is not writable the cache goes to `$ENGRAM_HOME/cache/merged-gguf/`. The scratch files
(≈ 2.5 GB for the 0.5B model: the merged HF weights and the float16 GGUF) live in a
hidden folder beside the target and are removed however the build ends; the result is
renamed into place, so a reader sees no file or a complete one.

Not guaranteed: identical logits to the runtime adapter. The merged weights are
quantized again (the adapter's delta is rounded with them), while the runtime path adds
an f16 LoRA to the quantized base; both agree with transformers to about the same
degree (docs/llamacpp.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent import atomic
from agent.backends.adapters import check_adapter_dir
from agent.backends.base import BackendError
from agent.backends.lora_gguf import adapter_digest, stamp_matches

Report = Callable[[str], None]

# llama_ftype values whose weights are plain floats: converted to directly, never quantized.
FLOAT_TYPES = {0: "f32", 1: "f16", 32: "bf16"}
# Tokenizer and template files the converter reads from the model folder.
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja",
                    "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model",
                    "generation_config.json")  # fmt: skip
_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


@dataclass(frozen=True)
class BuildTimes:
    """Seconds spent in each stage of a build (0 for a cache hit)."""

    merge_s: float = 0.0
    convert_s: float = 0.0
    quantize_s: float = 0.0

    @property
    def total_s(self) -> float:
        return self.merge_s + self.convert_s + self.quantize_s


def type_name(file_type: int) -> str:
    """A file-name-friendly name of a `llama_ftype` (15 → "Q4_K_M", 1 → "F16")."""
    try:
        from gguf import LlamaFileType

        return LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (ImportError, ValueError):
        return f"ftype{file_type}"


def file_type_named(name: str) -> int:
    """The `llama_ftype` of a type name ("Q8_0", "Q4_K_M", "F16"); ValueError if unknown."""
    from gguf import LlamaFileType

    for prefix in ("MOSTLY_", "ALL_"):
        member = LlamaFileType.__members__.get(prefix + name.upper())
        if member is not None:
            return int(member)
    raise ValueError(f"unknown llama.cpp file type {name!r} (e.g. Q8_0, Q4_K_M, F16)")


def merged_name(file_type: int) -> str:
    return f"merged.{type_name(file_type)}.gguf"


def _stamp(adapter_dir: Path, base_sha256: str, file_type: int, version: str) -> dict[str, str]:
    return {"source_sha256": adapter_digest(adapter_dir), "base_sha256": base_sha256,
            "file_type": str(file_type), "llama_cpp_python": version}  # fmt: skip


def _targets(adapter_dir: Path, digest: str, file_type: int, home_root: Path | None
             ) -> list[tuple[Path, Path]]:  # fmt: skip
    from agent.home import engram_home

    name = merged_name(file_type)
    home_cache = (home_root or engram_home()) / "cache" / "merged-gguf"
    return [
        (adapter_dir / name, adapter_dir / f"{name}.json"),
        (home_cache / f"{digest}.{name}", home_cache / f"{digest}.{name}.json"),
    ]


def cached_merged(adapter_dir: Path, base_sha256: str, file_type: int,
                  home_root: Path | None = None) -> Path | None:  # fmt: skip
    """The cached merged GGUF of this adapter and base, or None (nothing is built)."""
    from agent.backends.llamacpp_tools import installed_version

    want = _stamp(adapter_dir, base_sha256, file_type, installed_version() or "none")
    for gguf, stamp_file in _targets(adapter_dir, want["source_sha256"], file_type, home_root):
        if stamp_matches(gguf, stamp_file, want):
            return gguf
    return None


def merged_gguf(
    adapter_dir: Path,
    base_hf_dir: Path,
    base_sha256: str,
    file_type: int,
    *,
    threads: int = 1,
    home_root: Path | None = None,
    report: Report = print,
) -> tuple[Path, BuildTimes]:
    """The merged GGUF of base + the PEFT adapter in `adapter_dir` at `file_type`,
    built if not cached. `base_sha256` identifies the base GGUF (it is part of the cache
    key: another build of the base model means another merged file)."""
    from agent.backends.llamacpp_tools import installed_version

    adapter_dir = Path(adapter_dir)
    check_adapter_dir(adapter_dir)
    if not any((adapter_dir / w).is_file() for w in _WEIGHTS):
        raise BackendError(f"{adapter_dir} has no adapter weights ({' or '.join(_WEIGHTS)})")
    if not (Path(base_hf_dir) / "config.json").is_file():
        raise BackendError(
            f"merging an adapter needs the base model's converted folder with config.json; "
            f"{base_hf_dir} has none. Run `engram models fetch` for the model."
        )
    want = _stamp(adapter_dir, base_sha256, file_type, installed_version() or "none")
    targets = _targets(adapter_dir, want["source_sha256"], file_type, home_root)
    for gguf, stamp_file in targets:
        if stamp_matches(gguf, stamp_file, want):
            return gguf, BuildTimes()
    for gguf, stamp_file in targets:
        try:
            gguf.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(dir=gguf.parent, prefix=".merged-build-"))
        except OSError:
            continue  # not writable: the next place
        try:
            report(f"merging adapter {adapter_dir.name} into the model (one time per version)")
            times = _build(adapter_dir, Path(base_hf_dir), file_type, scratch, threads, report)
            os.replace(scratch / gguf.name, gguf)
            atomic.write_text(stamp_file, json.dumps(want, indent=2) + "\n")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return gguf, times
    raise BackendError(
        f"nowhere to write the merged model: {adapter_dir} and ENGRAM_HOME are read-only"
    )


def _build(adapter_dir: Path, base_hf_dir: Path, file_type: int, scratch: Path, threads: int,
           report: Report) -> BuildTimes:  # fmt: skip
    from agent.backends.llamacpp_lib import quantize

    hf_out = scratch / "hf"
    started = time.perf_counter()
    outtype = _merge(adapter_dir, base_hf_dir, hf_out, threads)
    merge_s = time.perf_counter() - started

    final = scratch / merged_name(file_type)
    plain = FLOAT_TYPES.get(file_type)
    converted = final if plain is not None else scratch / f"merged.{outtype}.gguf"
    started = time.perf_counter()
    _convert(hf_out, converted, plain or outtype, report)
    convert_s = time.perf_counter() - started
    shutil.rmtree(hf_out, ignore_errors=True)  # free the disk before quantizing

    started = time.perf_counter()
    if plain is None:
        quantize(converted, final, file_type, threads)
        converted.unlink(missing_ok=True)
    quantize_s = time.perf_counter() - started
    return BuildTimes(merge_s, convert_s, quantize_s)


def _merge(adapter_dir: Path, base_hf_dir: Path, out: Path, threads: int) -> str:
    """Run this module's merge step in a subprocess; the float type it saved."""
    cmd = [sys.executable, "-m", "agent.backends.merged_gguf", str(adapter_dir),
           str(base_hf_dir), str(out), str(threads)]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    done = out / "merged.json"
    if proc.returncode != 0 or not done.is_file():
        tail = (proc.stderr or proc.stdout)[-2000:]
        raise BackendError(
            f"merging the adapter {adapter_dir} into {base_hf_dir} failed:\n{tail}\n"
            "Is it a LoRA adapter of this model (PEFT layout, adapter_config.json + weights)?"
        )
    return json.loads(done.read_text())["outtype"]


def _convert(hf_dir: Path, out: Path, outtype: str, report: Report) -> None:
    from agent.backends.llamacpp_tools import ensure_tools

    script = "convert_hf_to_gguf.py"
    tools = ensure_tools(report=report)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "PYTHONNOUSERSITE": "1"}  # fmt: skip
    env.pop("NO_LOCAL_GGUF", None)  # the script must use the gguf-py it ships with
    cmd = [sys.executable, str(tools / script), "--outtype", outtype, "--outfile", str(out),
           str(hf_dir)]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tools, env=env)
    if proc.returncode != 0 or not out.is_file():
        tail = (proc.stderr or proc.stdout)[-2000:]
        hint = "Run `make setup-llamacpp` again (it installs sentencepiece, which the converter needs)."
        raise BackendError(f"llama.cpp's {script} could not convert the merged model:\n{tail}\n"
                           + (hint if "sentencepiece" in tail else ""))  # fmt: skip


def merge_to_folder(adapter_dir: Path, base_hf_dir: Path, out: Path, threads: int = 1) -> str:
    """base + adapter merged (float32 arithmetic), saved as an HF folder at `out` in
    float16 (bfloat16 where a weight exceeds float16's range) with the base's tokenizer
    files; returns "f16" or "bf16". Runs in the merge subprocess: it imports torch."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(max(1, threads))
    base = AutoModelForCausalLM.from_pretrained(str(base_hf_dir), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    largest = max(float(p.detach().abs().max()) for p in model.parameters())
    dtype, outtype = (torch.float16, "f16") if largest < 60000.0 else (torch.bfloat16, "bf16")
    model = model.to(dtype)
    model.save_pretrained(str(out))
    for name in _TOKENIZER_FILES:
        source = base_hf_dir / name
        if source.is_file():
            shutil.copyfile(source, out / name)
    (out / "merged.json").write_text(json.dumps({"outtype": outtype, "largest": largest}))
    return outtype


if __name__ == "__main__":  # the merge step's subprocess (see _merge)
    adapter, base, target, n_threads = sys.argv[1:5]
    merge_to_folder(Path(adapter), Path(base), Path(target), int(n_threads))
