"""Consolidation benchmark on the embedded model: training, adapter size and switching,
general-evaluation runtime.

    .venv/bin/python scripts/bench_consolidation.py [--steps 4] [--humaneval-n 8]
        [--switch-reps 3] [--parts training,switching,humaneval,heldout] [--json out.json]
        [--model qwen2.5-coder-1.5b-instruct]

What it measures (CPU, bf16, the embedded Qwen2.5-Coder-0.5B-Instruct or `--model`):

- training, once with CE and once with EAFT: LoRA r=16/alpha=32 on all 7 projections,
  2 sequences of ~256 tokens per optimizer step (batch 1 × grad_accum 2), `--steps`
  steps each; seconds per step and per training example (medians), the process's peak
  RSS during the run (the kernel's high-water mark is reset first), first/last loss;
- adapter size on disk (PEFT layout);
- adapter switching through PEFT (`memory.peft_lm.PeftLM`; the hf backend is not on
  main yet): load an adapter from disk, first-token latency (prefill + one token) with
  the adapter vs the base, switching between two loaded adapters, unloading;
- general evaluation runtime: the HumanEval subset (greedy, code run in the Docker
  sandbox) and the held-out loss, with their results.

Training data: functions of Python's standard library (not the held-out corpus files),
as "write function X" → code chats, chosen 180–256 tokens long. Medians are over the
steps / repetitions of one run; the machine's load average is printed with them
because shared cores make every figure move.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import statistics
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.backends.base import GenerationOptions  # noqa: E402
from agent.types import ChatMessage  # noqa: E402
from memory.general_eval import GeneralEvalConfig, evaluate_general  # noqa: E402
from memory.heldout import CORPUS  # noqa: E402
from memory.peft_lm import PeftLM  # noqa: E402
from memory.trainer import TrainerConfig, encode_examples, train_lora  # noqa: E402

SOURCE_MODULES = ("textwrap.py", "argparse.py", "calendar.py", "configparser.py", "zipfile.py")
SEQ = 256


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def training_examples(tokenizer, count: int) -> list[list[ChatMessage]]:
    """Function-writing chats from the stdlib, each 180–256 tokens once templated."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    found: list[list[ChatMessage]] = []
    for module in SOURCE_MODULES:
        assert module not in CORPUS  # never train on the held-out files
        text = (stdlib / module).read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef):
                continue
            source = ast.get_source_segment(text, node) or ""
            chat = [
                ChatMessage(role="user", content=f"Write `{node.name}` as in {module}."),
                ChatMessage(role="assistant", content=f"```python\n{source}\n```"),
            ]
            usable, _ = encode_examples(tokenizer, [chat], 10_000)
            if usable and 180 <= len(usable[0].input_ids) <= SEQ:
                found.append(chat)
            if len(found) == count:
                return found
    raise SystemExit(f"found only {len(found)} suitable functions")


def bench_training(lm: PeftLM, examples, loss: str, steps: int, out: Path) -> dict:
    config = TrainerConfig(
        loss=loss, epochs=1, batch_size=1, grad_accum=2, max_seq_len=SEQ, max_steps=steps,
        shuffle=False, lora_dropout=0.05,
    )  # fmt: skip
    result = train_lora(
        lm.base, lm.tokenizer, examples, config, out,
        progress=lambda p: print(f"  {loss} step {p.step}/{p.total_steps}: loss {p.loss:.3f} "
                                 f"ce {p.ce:.3f} ({p.step_s:.1f} s)", flush=True),
    )  # fmt: skip
    stats = result.stats
    lm.base = result.model.unload()  # the base model again, without LoRA layers
    per_step = median(stats.step_seconds)
    return {
        "loss": loss,
        "steps": stats.steps,
        "tokens_per_step": stats.sequence_tokens / stats.examples * 2,
        "s_per_step_median": per_step,
        "s_per_example_median": per_step / 2,
        "peak_rss_mb": stats.peak_rss_mb,
        "first_ce": stats.ce_losses[0],
        "last_ce": stats.ce_losses[-1],
        "mean_eaft_weight": statistics.mean(stats.mean_weights),
    }


def first_token_s(lm: PeftLM, adapter: str | None) -> float:
    prompt = [ChatMessage(role="user", content="Write a Python function that reverses a list.")]
    started = time.perf_counter()
    lm.generate(prompt, adapter=adapter, options=GenerationOptions(max_new_tokens=1, seed=0))
    return time.perf_counter() - started


def bench_switching(lm: PeftLM, adapters: list[Path], reps: int) -> dict:
    base, loads, with_adapter, switches, unloads = [], [], [], [], []
    for _ in range(reps):
        base.append(first_token_s(lm, None))
        t0 = time.perf_counter()
        lm.load_adapter("a", adapters[0])
        loads.append(time.perf_counter() - t0)
        with_adapter.append(first_token_s(lm, "a"))
        lm.load_adapter("b", adapters[1])
        t0 = time.perf_counter()
        with lm.active("b"):
            pass
        with lm.active("a"):
            pass
        switches.append((time.perf_counter() - t0) / 2)
        lm.unload_adapter("b")
        t0 = time.perf_counter()
        lm.unload_adapter("a")
        unloads.append(time.perf_counter() - t0)
    return {
        "first_token_base_s": median(base),
        "adapter_load_s": median(loads),
        "first_token_with_adapter_s": median(with_adapter),
        "switch_between_loaded_s": median(switches),
        "unload_last_s": median(unloads),
        "reps": reps,
    }


def dir_size(path: Path) -> dict:
    files = {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}
    return {"files": files, "total_bytes": sum(files.values())}


PARTS = ("training", "switching", "humaneval", "heldout")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="optimizer steps per loss")
    parser.add_argument("--humaneval-n", type=int, default=8)
    parser.add_argument("--switch-reps", type=int, default=3)
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument(
        "--model", default="qwen2.5-coder-0.5b-instruct", help="registry name, folder or hub id"
    )
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts <= set(PARTS):
        parser.error(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    if "switching" in parts:
        parts.add("training")  # switching loads the adapters training made
    warnings.filterwarnings("ignore", category=FutureWarning)

    import torch

    report: dict = {
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_avg_start": os.getloadavg(),
        },
        "parts": sorted(parts),
        "model": args.model,
    }
    t0 = time.perf_counter()
    lm = PeftLM.load(args.model, dtype="bfloat16", device="cpu")
    report["model_load_s"] = time.perf_counter() - t0
    print(f"model loaded in {report['model_load_s']:.1f} s", flush=True)

    with tempfile.TemporaryDirectory(prefix="engram-bench-") as tmp:
        if "training" in parts:
            examples = training_examples(lm.tokenizer, 2 * args.steps)
            adapters = []
            report["training"] = []
            for loss in ("ce", "eaft"):
                out = Path(tmp) / loss
                row = bench_training(lm, examples, loss, args.steps, out)
                report["training"].append(row)
                adapters.append(out)
                print(json.dumps(row), flush=True)
            report["adapter_size"] = dir_size(adapters[0])
            print(f"adapter size: {report['adapter_size']}", flush=True)
        if "switching" in parts:
            report["switching"] = bench_switching(lm, adapters, args.switch_reps)
            print(json.dumps(report["switching"]), flush=True)

    config = GeneralEvalConfig(
        humaneval_n=args.humaneval_n if "humaneval" in parts else 0, heldout="heldout" in parts
    )
    if config.humaneval_n:
        from memory.humaneval import scratch_sandbox

        with scratch_sandbox() as box:
            general = evaluate_general(lm, box, None, config, report=print)
    else:
        general = evaluate_general(lm, None, None, config, report=print)
    if general.humaneval is not None:
        he = general.humaneval
        report["humaneval"] = {
            "n": he.total,
            "pass_at_1": he.pass_at_1,
            "seconds": he.seconds,
            "s_per_problem_median": median([s.generate_s + s.execute_s for s in he.samples]),
            "generate_s_median": median([s.generate_s for s in he.samples]),
            "execute_s_median": median([s.execute_s for s in he.samples]),
            "tokens_median": median([s.generated_tokens for s in he.samples]),
            "decode_tokens_per_s": sum(s.generated_tokens for s in he.samples)
            / max(1e-9, sum(s.generate_s for s in he.samples)),
            "outcomes": {s.task_id: s.outcome for s in he.samples},
        }
    if general.heldout is not None:
        report["heldout"] = {
            "mean_loss": general.heldout.mean_loss,
            "tokens": general.heldout.tokens,
            "seconds": general.heldout.seconds,
            "corpus_id": general.heldout.corpus_id,
        }
    report["machine"]["load_avg_end"] = os.getloadavg()

    print("\n== medians ==")
    for row in report.get("training", []):
        print(
            f"train {row['loss']:>4}: {row['s_per_step_median']:.2f} s/step "
            f"({row['tokens_per_step']:.0f} tokens), {row['s_per_example_median']:.2f} s/example, "
            f"peak RSS {row['peak_rss_mb']:.0f} MB, ce {row['first_ce']:.3f} → {row['last_ce']:.3f}"
        )
    if "adapter_size" in report:
        print(f"adapter on disk: {report['adapter_size']['total_bytes'] / 2**20:.1f} MiB")
    if "switching" in report:
        sw = report["switching"]
        print(
            f"adapter load {sw['adapter_load_s']:.2f} s; first token base "
            f"{sw['first_token_base_s']:.2f} s vs adapter {sw['first_token_with_adapter_s']:.2f} s; "
            f"switch {sw['switch_between_loaded_s'] * 1000:.2f} ms; unload {sw['unload_last_s']:.2f} s"
        )
    if "humaneval" in report:
        he = report["humaneval"]
        print(
            f"humaneval n={he['n']}: pass@1 {he['pass_at_1']:.3f} in {he['seconds']:.0f} s "
            f"({he['s_per_problem_median']:.1f} s/problem median, {he['tokens_median']:.0f} tokens, "
            f"{he['decode_tokens_per_s']:.2f} generated tokens/s)"
        )
    if "heldout" in report:
        ho = report["heldout"]
        print(
            f"held-out loss {ho['mean_loss']:.4f} over {ho['tokens']} tokens in {ho['seconds']:.1f} s"
        )
    machine = report["machine"]
    print(f"load average start {machine['load_avg_start']} end {machine['load_avg_end']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
