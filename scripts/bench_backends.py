"""Decode and prefill speed of the backends, medians over runs.

Conditions, run round-robin so that machine load drifts over all of them alike:

- hf            the in-process backend, bf16, no adapter
- hf+adapter    with a LoRA adapter active (r=16 on all seven projections, as memory trains)
- hf+hidden     with hidden-state capture of one layer (about two thirds of the depth)
- serve+openai  the openai backend (streaming) against `engram serve` on loopback

Prefill tokens/s = prompt tokens / time to the first generated token; decode tokens/s
= (generated tokens - 1) / the time after it. Through HTTP the first token is the first
streamed chunk, so HTTP overhead is included.

On a busy machine whole-generation timings swing far more than the few percent the
recording costs, so the script also times the recording itself: the hidden-state hook
(per forward pass), the logits bookkeeping (entropy and log-softmax per step) and the
per-token text bookkeeping, as microseconds per token and as a share of a token's time.

    .venv/bin/python scripts/bench_backends.py --runs 5 --new-tokens 32 [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.backends.base import GenerationOptions
from agent.types import ChatMessage

PROMPT_TEXT = (
    "You are reviewing a small Python library for bookkeeping. It has modules ledger.py "
    "(accounts, postings, balances), money.py (decimal amounts with currencies), io.py (CSV "
    "import and export) and report.py (trial balance, income statement). The tests live in "
    "tests/ and run with pytest. A user reports that importing a CSV file whose amounts use "
    "a comma as the decimal separator silently produces amounts a hundred times too large, "
    "and that the trial balance then no longer sums to zero. Explain step by step where in "
    "the code such a bug is most likely to be, how you would write a failing test for it "
    "first, and then write the corrected parsing function in full, with type hints and a "
    "docstring. Keep the public interface unchanged and mention any edge cases, such as "
    "thousands separators, negative amounts in parentheses and empty cells."
)


def make_adapter(model_dir: str, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    torch.manual_seed(0)
    config = LoraConfig(
        r=16, lora_alpha=32, task_type="CAUSAL_LM", init_lora_weights=False,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )  # fmt: skip
    model = get_peft_model(base, config)
    # Small random weights: a realistic amount of extra compute without wrecking the text.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.01)
    model.save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str, port: int, log: Path, threads: int) -> subprocess.Popen:
    import httpx

    cmd = [sys.executable, "-c", "from agent.cli.main import main; main()", "serve",
           "--model", model, "--port", str(port), "--served-model-name", "bench",
           "--log-level", "warning", "--threads", str(threads)]  # fmt: skip
    with log.open("w") as handle:
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"engram serve exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("engram serve did not come up in 300 s")


def time_recording() -> dict[str, list[float]]:
    """Wrap DecodeTrace's per-token work with timers: {what: [seconds, calls]}."""
    from agent.backends import decoding

    costs: dict[str, list[float]] = {}
    for attr, label in (("hook", "hidden-state hook"), ("on_logits", "logprobs + entropy"),
                        ("on_token", "token + text bookkeeping")):  # fmt: skip
        original = getattr(decoding.DecodeTrace, attr)
        slot = costs.setdefault(label, [0.0, 0])

        def timed(self, *a, _original=original, _slot=slot):
            started = time.perf_counter()
            try:
                return _original(self, *a)
            finally:
                _slot[0] += time.perf_counter() - started
                _slot[1] += 1

        setattr(decoding.DecodeTrace, attr, timed)
    return costs


def rates(gen) -> tuple[float, float]:
    n = gen.usage.completion_tokens
    decode_s = gen.seconds - gen.prefill_seconds
    return gen.usage.prompt_tokens / gen.prefill_seconds, (n - 1) / decode_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--no-serve", action="store_true", help="skip the HTTP condition")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: all)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args()

    from agent.backends.hf import HFBackend
    from agent.backends.openai import OpenAIBackend

    hf = HFBackend(args.model, threads=args.threads)
    costs = time_recording()
    model_dir = str(hf.base_model.name_or_path)
    layer = round(hf.num_layers * 2 / 3)
    tmp = Path(tempfile.mkdtemp(prefix="engram-bench-"))
    hf.load_adapter("bench", make_adapter(model_dir, tmp / "adapter"))
    messages = [ChatMessage(role="user", content=PROMPT_TEXT)]
    # Never stop early: every run generates exactly --new-tokens tokens.
    no_eos = {i: -100.0 for i in hf.eos_token_ids}
    opts = GenerationOptions(max_new_tokens=args.new_tokens, seed=0, logit_bias=no_eos)

    conditions = {
        "hf": lambda: hf.generate(messages, options=opts),
        "hf+adapter": lambda: hf.generate(messages, adapter="bench", options=opts),
        "hf+hidden": lambda: hf.generate(messages, options=replace(opts, capture_layer=layer)),
    }
    server = None
    if not args.no_serve:
        port = free_port()
        server = start_server(model_dir, port, tmp / "serve.log", args.threads)
        client = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "bench", stream=True)
        conditions["serve+openai"] = lambda: client.generate(messages, options=opts)

    results: dict[str, list[tuple[float, float]]] = {k: [] for k in conditions}
    try:
        for run in conditions.values():  # warm-up, not counted
            run()
        for i in range(args.runs):
            for name, run in conditions.items():
                gen = run()
                assert gen.usage.completion_tokens == args.new_tokens, (name, gen.usage)
                results[name].append(rates(gen))
            print(f"run {i + 1}/{args.runs} done", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nmodel {hf.model_id}, bf16 on {hf.device}, torch threads {_threads()} ({os.cpu_count()} cores), "
          f"{platform.processor() or platform.machine()}, load average {load[0]:.1f}")  # fmt: skip
    print(f"prompt {hf.count_tokens(messages)} tokens, {args.new_tokens} new tokens, "
          f"median of {args.runs} runs (hidden capture: layer {layer})\n")  # fmt: skip
    print("| condition | prefill tokens/s | decode tokens/s | decode vs hf |")
    print("|---|---|---|---|")
    base_decode = statistics.median(d for _, d in results["hf"])
    summary = {}
    for name, pairs in results.items():
        prefill = statistics.median(p for p, _ in pairs)
        decode = statistics.median(d for _, d in pairs)
        summary[name] = {"prefill_tps": prefill, "decode_tps": decode, "runs": pairs}
        print(f"| {name} | {prefill:.0f} | {decode:.1f} | {decode / base_decode - 1:+.1%} |")
    token_s = 1.0 / base_decode
    print("\n| recording (hf) | µs per token | share of a decode step |")
    print("|---|---|---|")
    for name, (total, calls) in costs.items():
        per = total / max(calls, 1)
        summary[f"cost:{name}"] = {"us_per_token": per * 1e6, "calls": calls}
        print(f"| {name} | {per * 1e6:.0f} | {per / token_s:.2%} |")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
