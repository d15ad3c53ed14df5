"""Decode and prefill speed of the backends, medians over runs.

Conditions, run round-robin so that machine load drifts over all of them alike:

- hf              the in-process backend, bf16, no adapter loaded
- hf, adapter off a second instance with a LoRA adapter loaded but not used (adapter=None)
- hf+adapter      that adapter active (r=16 on all seven projections, as memory trains)
- hf+hidden       the first instance with hidden-state capture of one layer (2/3 depth)
- serve+openai    the openai backend (streaming) against `engram serve` on loopback

Prefill tokens/s = prompt tokens / time to the first generated token; decode tokens/s
= (generated tokens - 1) / the time after it. Through HTTP the first token is the first
streamed chunk, so HTTP overhead is included.

Wall-clock speed on a shared machine swings with everyone else's load, so the script
also counts CPU time, which other processes barely disturb: CPU seconds per request
(for serve+openai: the server's CPU plus the client's) and, in process, CPU ms per
decoded token. With --threads 1 CPU time is compute time; with more threads it also
includes OpenMP's spin-waiting. Finally it times the recording itself (thread CPU per
call): the hidden-state hook, the logits bookkeeping (log-softmax, entropy) and the
per-token text bookkeeping.

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


MARK: dict[str, float] = {}


def time_recording() -> dict[str, list[float]]:
    """Wrap DecodeTrace's per-token work with CPU timers: {what: [cpu seconds, calls]}.

    Thread CPU time, not wall time: on a shared machine a preempted call would otherwise
    be charged for other processes' work. Also marks the process CPU clock at the first
    logits of each generation (the end of prefill), for the CPU cost of decoding alone.
    """
    from agent.backends import decoding

    costs: dict[str, list[float]] = {}
    for attr, label in (("hook", "hidden-state hook"), ("on_logits", "logprobs + entropy"),
                        ("on_token", "token + text bookkeeping")):  # fmt: skip
        original = getattr(decoding.DecodeTrace, attr)
        slot = costs.setdefault(label, [0.0, 0])

        def timed(self, *a, _original=original, _slot=slot, _attr=attr):
            if _attr == "on_logits" and self.first_logits_at is None:
                MARK["cpu_first_token"] = time.process_time()
            started = time.thread_time()
            try:
                return _original(self, *a)
            finally:
                _slot[0] += time.thread_time() - started
                _slot[1] += 1

        setattr(decoding.DecodeTrace, attr, timed)
    return costs


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(run, server_pid: int | None) -> dict[str, float]:
    MARK.clear()
    cpu0 = time.process_time()
    remote0 = proc_cpu(server_pid) if server_pid else 0.0
    gen = run()
    cpu = time.process_time() - cpu0
    if server_pid:
        cpu += proc_cpu(server_pid) - remote0
    n = gen.usage.completion_tokens
    out = {
        "tokens": n,
        "prefill_tps": gen.usage.prompt_tokens / gen.prefill_seconds,
        "decode_tps": (n - 1) / (gen.seconds - gen.prefill_seconds),
        "cpu_s_per_request": cpu,
    }
    if "cpu_first_token" in MARK and not server_pid:
        out["cpu_ms_per_decoded_token"] = (
            1000 * (time.process_time() - MARK["cpu_first_token"]) / (n - 1)
        )
    return out


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
    adapted = HFBackend(args.model, threads=args.threads)
    costs = time_recording()
    model_dir = str(hf.base_model.name_or_path)
    layer = round(hf.num_layers * 2 / 3)
    tmp = Path(tempfile.mkdtemp(prefix="engram-bench-"))
    adapted.load_adapter("bench", make_adapter(model_dir, tmp / "adapter"))
    messages = [ChatMessage(role="user", content=PROMPT_TEXT)]
    # Never stop early: every run generates exactly --new-tokens tokens.
    no_eos = {i: -100.0 for i in hf.eos_token_ids}
    opts = GenerationOptions(max_new_tokens=args.new_tokens, seed=0, logit_bias=no_eos)

    conditions = {
        "hf": lambda: hf.generate(messages, options=opts),
        "hf, adapter off": lambda: adapted.generate(messages, options=opts),
        "hf+adapter": lambda: adapted.generate(messages, adapter="bench", options=opts),
        "hf+hidden": lambda: hf.generate(messages, options=replace(opts, capture_layer=layer)),
    }
    server = None
    if not args.no_serve:
        port = free_port()
        server = start_server(model_dir, port, tmp / "serve.log", args.threads)
        client = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "bench", stream=True)
        conditions["serve+openai"] = lambda: client.generate(messages, options=opts)

    results: dict[str, list[dict[str, float]]] = {k: [] for k in conditions}
    try:
        for run in conditions.values():  # warm-up, not counted
            run()
        for i in range(args.runs):
            for name, run in conditions.items():
                pid = server.pid if name == "serve+openai" and server else None
                record = measure(run, pid)
                assert record["tokens"] == args.new_tokens, (name, record)
                results[name].append(record)
            print(f"run {i + 1}/{args.runs} done", file=sys.stderr)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()
    print(f"\nmodel {hf.model_id}, bf16 on {hf.device}, torch threads {_threads()} "
          f"({os.cpu_count()} cores), {platform.processor() or platform.machine()}, "
          f"load average {load[0]:.1f}")  # fmt: skip
    print(f"prompt {hf.count_tokens(messages)} tokens, {args.new_tokens} new tokens, "
          f"median of {args.runs} runs (hidden capture: layer {layer})\n")  # fmt: skip
    print("| condition | prefill tokens/s | decode tokens/s | CPU ms per decoded token "
          "| CPU s per request | CPU vs hf |")  # fmt: skip
    print("|---|---|---|---|---|---|")

    def med(name: str, key: str) -> float | None:
        values = [r[key] for r in results[name] if key in r]
        return statistics.median(values) if values else None

    base_cpu = med("hf", "cpu_s_per_request")
    summary: dict[str, dict] = {}
    for name in results:
        row = {k: med(name, k) for k in ("prefill_tps", "decode_tps", "cpu_ms_per_decoded_token",
                                         "cpu_s_per_request")}  # fmt: skip
        summary[name] = {**row, "runs": results[name]}
        per_token = row["cpu_ms_per_decoded_token"]
        print(f"| {name} | {row['prefill_tps']:.0f} | {row['decode_tps']:.1f} | "
              f"{'-' if per_token is None else f'{per_token:.0f}'} | "
              f"{row['cpu_s_per_request']:.2f} | {row['cpu_s_per_request'] / base_cpu - 1:+.1%} |")  # fmt: skip
    token_cpu = med("hf", "cpu_ms_per_decoded_token") / 1000
    print("\n| recording (hf, main thread CPU) | µs per token | share of a token's decode CPU |")
    print("|---|---|---|")
    for name, (total, calls) in costs.items():
        per = total / max(calls, 1)
        summary[f"cost:{name}"] = {"us_per_token": per * 1e6, "calls": calls}
        print(f"| {name} | {per * 1e6:.0f} | {per / token_cpu:.2%} |")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")


def _threads() -> int:
    import torch

    return torch.get_num_threads()


if __name__ == "__main__":
    main()
