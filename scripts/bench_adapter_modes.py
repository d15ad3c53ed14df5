"""A repo adapter in llama.cpp, applied at runtime or merged into the weights, measured:
decode speed, what rank and target modules cost at runtime, the merged model's build and
load times, and agreement of both with transformers (base + PEFT adapter).

Usage (one run; `--parts` picks sections, all by default):
    nice -n 5 .venv/bin/python scripts/bench_adapter_modes.py [--threads 2] [--tokens 64]
        [--reps 5] [--parts build,speed,variants,load,agree]
        [--out /tmp/engram-bench-adapter-modes.json]

- build: time to build the merged GGUF of a LoRA r=16 on the 7 projections (merge,
  convert, quantize; wall and the child processes' CPU), and its size; at the base's
  type (Q4_K_M) and at Q8_0. Also the base model alone at Q8_0 (a zero adapter merged:
  B = 0), to tell the type's speed from the merge's.
- speed: decode tokens/s and CPU ms per decoded token (the prompt's prefill CPU
  subtracted; the comparable column on a shared machine) for the base model, the
  adapter applied at runtime, and the merged models. Reps are interleaved (one of each
  per round), so load changes on the machine hit all rows alike; medians.
- variants: the runtime adapter's cost by rank (4, 8, 16, 32 on the 7 projections), by
  target modules (attention only, MLP only) and tensor type (f32 instead of f16),
  interleaved with the base model the same way.
- load: loading a merged model (what switching repositories costs in merged mode): with
  the file in the page cache, and cold (the file evicted from the page cache first with
  posix_fadvise, the rest of the machine untouched); the base model for comparison.
- agree: next-token logits of llama.cpp (runtime adapter; merged model) vs transformers
  bf16 + PEFT adapter over fixed prompts (correlation, top-1, identical 16-token greedy
  replies), as scripts/bench_llamacpp.py's `agree` does for the runtime adapter.

Random adapters: PEFT LoRA, random A and B, B scaled by 0.1 (agreement.random_lora).
The load average is printed with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.backends.base import GenerationOptions
from agent.types import ChatMessage
from scripts.bench_llamacpp import AGREE_PROMPTS, LONG_ASK, load, median, timed

ALL_7 = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
VARIANTS = {  # label: (rank, target modules, adapter tensor type)
    "r4 × 7": (4, ALL_7, "f16"),
    "r8 × 7": (8, ALL_7, "f16"),
    "r16 × 7": (16, ALL_7, "f16"),
    "r32 × 7": (32, ALL_7, "f16"),
    "r16 attention (q,k,v,o)": (16, ALL_7[:4], "f16"),
    "r16 MLP (gate,up,down)": (16, ALL_7[4:], "f16"),
    "r16 × 7, f32 tensors": (16, ALL_7, "f32"),
}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def decode_row(backend, adapter, args) -> tuple[dict, dict]:
    """One decode run and one 1-token run (its CPU is the prompt's prefill)."""
    short = [ChatMessage(role="user", content=LONG_ASK)]
    run = timed(backend, short, GenerationOptions(max_new_tokens=args.tokens), adapter)
    first = timed(backend, short, GenerationOptions(max_new_tokens=1), adapter)
    return run, first


def summarize(runs: list[dict], firsts: list[dict]) -> dict:
    prefill_cpu = median([f["cpu_per_token_ms"] for f in firsts])
    return {
        "decode_tps": median([r["decode_tps"] for r in runs]),
        "cpu_ms_per_token": median(
            [(r["cpu_per_token_ms"] * r["tokens"] - prefill_cpu) / (r["tokens"] - 1) for r in runs]
        ),
        "tokens": runs[0]["tokens"],
        "reps": len(runs),
        "load": load(),
    }


def interleaved(rows: dict, args) -> dict:
    """rows: label → (backend, adapter). Each round runs every row once."""
    collected: dict[str, tuple[list, list]] = {label: ([], []) for label in rows}
    for _ in range(args.reps):
        for label, (backend, adapter) in rows.items():
            run, first = decode_row(backend, adapter, args)
            collected[label][0].append(run)
            collected[label][1].append(first)
    out = {}
    for label, (runs, firsts) in collected.items():
        out[label] = summarize(runs, firsts)
        r = out[label]
        print(f"  {label:<28} decode {r['decode_tps']:5.1f} tok/s, {r['cpu_ms_per_token']:5.1f} "
              f"CPU ms/token ({r['tokens']} tokens, {r['reps']} reps); load {r['load']}",
              flush=True)  # fmt: skip
    return out


def build(merged_backend, adapter_dir: Path) -> dict:
    cpu = children_cpu()
    started = time.perf_counter()
    merged_backend.load_adapter("repo", adapter_dir)
    wall = time.perf_counter() - started
    gguf, times, load_s = merged_backend.merged_info("repo")
    print(f"  {merged_backend.merged_type} → {gguf.name}", flush=True)
    out = {"wall_s": wall, "merge_s": times.merge_s, "convert_s": times.convert_s,
           "quantize_s": times.quantize_s, "load_s": load_s,
           "children_cpu_s": children_cpu() - cpu, "bytes": gguf.stat().st_size,
           "load": load()}  # fmt: skip
    print(f"  merged build: {wall:.1f} s wall (merge {times.merge_s:.1f}, convert "
          f"{times.convert_s:.1f}, quantize {times.quantize_s:.1f}, load {load_s:.2f}); "
          f"subprocess CPU {out['children_cpu_s']:.1f} s (+ quantize in process); "
          f"{out['bytes'] / 1e6:.1f} MB; load {out['load']}", flush=True)  # fmt: skip
    return out


def evict(path: Path) -> None:
    """Drop one file's pages from the page cache (only this file; nothing else)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def loads(base_gguf: Path, merged_gguf: Path, scratch: Path, args) -> dict:
    import shutil

    from agent.backends.llamacpp_lib import LlamaContext, LlamaModel

    out = {}
    for label, source in (("base", base_gguf), ("merged", merged_gguf)):
        # A copy nobody maps: pages of a file this process has mapped cannot be evicted.
        path = scratch / f"load-{label}.gguf"
        shutil.copyfile(source, path)
        for state in ("warm", "cold"):
            seconds = []
            for _ in range(3):
                if state == "cold":
                    evict(path)
                started = time.perf_counter()
                model = LlamaModel(path)
                ctx = LlamaContext(model, n_ctx=8192, n_threads=args.threads)
                # the first evaluation touches every weight page (mmap loads lazily)
                ctx.decode(model.tokenize("Hello"), 0)
                seconds.append(time.perf_counter() - started)
                ctx.close()
                model.close()
            out[f"{label}_{state}_s"] = median(seconds)
            print(f"  load {label:<6} {state}: {median(seconds):.2f} s (model + 8192-token "
                  f"context + first token; median of 3); load {load()}", flush=True)  # fmt: skip
        path.unlink()
    return out


def agree(runtime, merged, merged8, hf, args) -> dict:
    from agent.backends.agreement import compare, hf_next_logits

    chats = [[ChatMessage(role="user", content=p)] for p in AGREE_PROMPTS]
    hf_base = [hf_next_logits(hf, c, None) for c in chats]
    hf_ad = [hf_next_logits(hf, c, "repo") for c in chats]
    rt_base = [runtime.next_logits(c) for c in chats]
    rt_ad = [runtime.next_logits(c, adapter="repo") for c in chats]
    mg_ad = [merged.next_logits(c, adapter="repo") for c in chats]
    mg8_ad = [merged8.next_logits(c, adapter="repo") for c in chats]
    out = {
        "base: llama.cpp vs transformers": compare(rt_base, hf_base),
        "runtime adapter vs transformers + adapter": compare(rt_ad, hf_ad),
        "merged Q4_K_M vs transformers + adapter": compare(mg_ad, hf_ad),
        "merged Q8_0 vs transformers + adapter": compare(mg8_ad, hf_ad),
        "merged Q4_K_M vs runtime adapter": compare(mg_ad, rt_ad),
        "what the adapter does (transformers)": compare(hf_base, hf_ad),
    }
    opts = GenerationOptions(max_new_tokens=16)
    same = {"runtime": 0, "merged": 0, "merged_q8_0": 0, "merged_vs_runtime": 0}
    for c in chats:
        ref = hf.generate(c, adapter="repo", options=opts).token_ids
        rt = runtime.generate(c, adapter="repo", options=opts).token_ids
        mg = merged.generate(c, adapter="repo", options=opts).token_ids
        mg8 = merged8.generate(c, adapter="repo", options=opts).token_ids
        same["runtime"] += rt == ref
        same["merged"] += mg == ref
        same["merged_q8_0"] += mg8 == ref
        same["merged_vs_runtime"] += mg == rt
    for key, value in out.items():
        print(f"  {key:<44} {value.line()}", flush=True)
    n = len(chats)
    print(f"  identical 16-token greedy replies vs transformers + adapter: runtime "
          f"{same['runtime']}/{n}, merged Q4_K_M {same['merged']}/{n}, merged Q8_0 "
          f"{same['merged_q8_0']}/{n}; merged Q4_K_M vs runtime {same['merged_vs_runtime']}/{n}; "
          f"load {load()}", flush=True)  # fmt: skip
    return {**{k: v.__dict__ for k, v in out.items()}, "greedy_same": same, "load": load()}


def variants(model: str, hf_dir: Path, scratch: Path, args) -> dict:
    from agent.backends.agreement import random_lora
    from agent.backends.llamacpp import LlamaCppBackend
    from agent.backends.llamacpp_lib import LoraAdapter
    from agent.backends.lora_gguf import convert

    backend = LlamaCppBackend(model, threads=args.threads, prefix_cache=False)
    rows: dict = {"base (no adapter)": (backend, None)}
    for i, (label, (rank, targets, outtype)) in enumerate(VARIANTS.items()):
        peft_dir = random_lora(hf_dir, scratch / f"v{i}", seed=3, r=rank, targets=targets)
        gguf = scratch / f"v{i}.gguf"
        convert(peft_dir, hf_dir, gguf, report=lambda _t: None, outtype=outtype)
        # Loaded by hand: load_adapter always converts to f16.
        handle = LoraAdapter(backend._require_model(), gguf)
        backend._adapters[label] = (peft_dir, handle)
        rows[label] = (backend, label)
    try:
        return interleaved(rows, args)
    finally:
        backend.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--parts", default="build,speed,variants,load,agree")
    parser.add_argument("--out", default="/tmp/engram-bench-adapter-modes.json")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="keep the adapters (and their merged models) here: a second run "
                        "with the same folder reuses the builds")  # fmt: skip
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    from agent.backends.agreement import random_lora
    from agent.backends.llamacpp import LlamaCppBackend

    print(f"threads {args.threads}, {os.cpu_count()} cores, load {load()}", flush=True)
    results: dict = {"args": vars(args)}
    runtime = LlamaCppBackend(args.model, threads=args.threads, prefix_cache=False)
    merged = LlamaCppBackend(args.model, threads=args.threads, prefix_cache=False,
                             adapter_mode="merged")  # fmt: skip
    merged8 = LlamaCppBackend(args.model, threads=args.threads, prefix_cache=False,
                              adapter_mode="merged", merged_type="Q8_0")  # fmt: skip
    hf_dir = runtime.source.hf_dir
    assert hf_dir is not None
    with tempfile.TemporaryDirectory(prefix="engram-bench-modes-") as tmp:
        scratch = args.scratch or Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        adapter_dir = scratch / "r16"
        if not (adapter_dir / "adapter_config.json").is_file():
            random_lora(hf_dir, adapter_dir, seed=3)
        runtime.load_adapter("repo", adapter_dir)
        print("build:", flush=True)
        # every other part needs the merged models
        results["build"] = build(merged, adapter_dir)
        results["build_q8_0"] = build(merged8, adapter_dir)
        zero_dir = scratch / "zero"
        if not (zero_dir / "adapter_config.json").is_file():
            random_lora(hf_dir, zero_dir, seed=3, scale=0.0)  # B = 0
        base8 = LlamaCppBackend(args.model, threads=args.threads, prefix_cache=False,
                                adapter_mode="merged", merged_type="Q8_0")  # fmt: skip
        results["build_base_q8_0"] = build(base8, zero_dir)
        if "speed" in parts:
            print("speed:", flush=True)
            results["speed"] = interleaved({"base Q4_K_M (no adapter)": (runtime, None),
                                            "runtime adapter r16 × 7": (runtime, "repo"),
                                            "merged r16 × 7, Q4_K_M": (merged, "repo"),
                                            "merged r16 × 7, Q8_0": (merged8, "repo"),
                                            "base as Q8_0 (no adapter)": (base8, "repo")},
                                           args)  # fmt: skip
        if "variants" in parts:
            print("runtime adapter variants:", flush=True)
            results["variants"] = variants(args.model, hf_dir, scratch, args)
        if "load" in parts:
            print("model loads:", flush=True)
            results["load"] = loads(runtime.source.gguf, merged.merged_info("repo")[0], scratch,
                                    args)  # fmt: skip
        if "agree" in parts:
            from agent.backends.hf import HFBackend

            print("agreement with transformers (next-token logits):", flush=True)
            hf = HFBackend(args.model, threads=args.threads)
            hf.load_adapter("repo", adapter_dir)
            results["agree"] = agree(runtime, merged, merged8, hf, args)
            hf.close()
        for backend in (runtime, merged, merged8, base8):
            backend.close()
    Path(args.out).write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"load {load()}; results: {args.out}")


if __name__ == "__main__":
    main()
