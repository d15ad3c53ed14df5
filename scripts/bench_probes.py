"""Costs of the probes, measured: what they add to every step of a run, and training time.

    .venv/bin/python scripts/bench_probes.py [--repeats 50] [--model qwen2.5-coder-0.5b-instruct]

Prints medians:
- `pool`: pooling one step's hidden states ([tokens, hidden] → [hidden]);
- `assess@h`: one `ProbeMonitor.assess` (pooling + step probe + prefix over h kept steps)
  with a probe of the model's hidden size;
- `train`: `train_probe` on a synthetic dataset (runs × steps at the model's hidden size);
- `teacher`: one teacher-forced pass for a step (prompt + completion tokens) on the
  embedded model, and `generate` of the same completion for comparison — skipped with a
  note when the in-process backend or the model is not available.

The probe itself is synthetic (random features): its *accuracy* is meaningless here;
the cost does not depend on what it learned.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.backends.base import Generation
from agent.monitor import MonitorInput
from agent.types import Step
from probes.dataset import Dataset, StepRow, write_shard
from probes.features import DATASET_POOLINGS, Pooling
from probes.monitor import ProbeMonitor
from probes.training import TrainOptions, train_probe


def median_s(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def synthetic_dataset(
    directory: Path, runs: int, steps: int, hidden: int, seed: int = 0
) -> Dataset:
    from probes.dataset import Shard

    rng = np.random.default_rng(seed)
    direction = rng.normal(size=hidden)
    direction /= np.linalg.norm(direction)
    for r in range(runs):
        bad = (rng.random(steps) < 0.15).astype(int)
        verified = bool(bad.sum() == 0 or rng.random() < 0.3)
        x = rng.normal(size=(steps, hidden)) + 4.0 * np.outer(bad, direction)
        rows = [
            StepRow(
                run_id=f"r{r}",
                position=i,
                step_index=i,
                label=1 if bad[i] else (0 if verified else -1),
                run_verified=verified,
                history=list(range(i)),
            )
            for i in range(steps)
        ]
        write_shard(directory, Shard(
            run_id=f"r{r}", model_id="bench", layer=16, rows=rows,
            pooled={p.name: x.astype(np.float32) for p in DATASET_POOLINGS[:1]},
            mean_entropy=rng.random(steps).astype(np.float32),
            min_logprob=-rng.random(steps).astype(np.float32),
            n_tokens=np.full(steps, 100, np.int32),
        ))  # fmt: skip
    return Dataset.load(directory)


def bench_monitor(hidden: int, tokens: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_dataset(Path(tmp), runs=40, steps=15, hidden=hidden)
        probe, _ = train_probe(data, "bench", TrainOptions(l2=1.0))
    rng = np.random.default_rng(1)
    states = rng.normal(size=(tokens, hidden)).astype(np.float32)
    print(
        f"pool [{tokens}x{hidden}]: {1000 * median_s(lambda: Pooling().pool(states), repeats):.3f} ms"
    )
    for h in (0, 10, 30):
        monitor = ProbeMonitor(probe)
        history = []
        for i in range(h):
            s = Step(index=i, message=f"s{i}")
            monitor.assess(MonitorInput(s, Generation(text="", hidden=states, hidden_layer=16), []))
            history.append(s)
        pending = Step(index=h, message="pending")
        gen = Generation(text="", hidden=states, hidden_layer=16)
        item = MonitorInput(pending, gen, history)
        ms = 1000 * median_s(lambda m=monitor, i=item: m.assess(i), repeats)
        print(f"assess@{h} (hidden {hidden}, {tokens} tokens): {ms:.3f} ms")


def bench_train(hidden: int, runs: int, steps: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = synthetic_dataset(Path(tmp), runs=runs, steps=steps, hidden=hidden)
        for label, opts in (("fixed l2", TrainOptions(l2=1.0)), ("l2 by CV", TrainOptions())):
            started = time.perf_counter()
            train_probe(data, "bench", opts)
            print(f"train ({label}) {runs} runs x {steps} steps, hidden {hidden}: "
                  f"{time.perf_counter() - started:.2f} s")  # fmt: skip


def bench_teacher(model: str, repeats: int) -> None:
    try:
        from agent.backends.hf import HFBackend
    except ImportError:
        print("teacher: skipped (the hf backend is not in this build)")
        return
    from agent.backends.base import BackendError, GenerationOptions
    from agent.types import ChatMessage

    try:
        hf = HFBackend(model)
    except BackendError as exc:
        print(f"teacher: skipped ({exc})")
        return
    layer = round(2 * hf.num_layers / 3)
    messages = [ChatMessage(role="system", content="You are a careful Python engineer. " * 20),
                ChatMessage(role="user", content="Explain what a ledger's journal parser does.")]  # fmt: skip
    options = GenerationOptions(max_new_tokens=64, capture_layer=layer, seed=0)
    gen = hf.generate(messages, options=options)
    prompt = hf.count_tokens(messages)
    n = len(gen.token_ids or [])
    gen_s = median_s(lambda: hf.generate(messages, options=options), max(1, repeats // 10))
    replay_s = median_s(lambda: hf.replay(messages, gen.token_ids, capture_layer=layer),
                        max(3, repeats // 5))  # fmt: skip
    print(f"teacher pass ({prompt} prompt + {n} completion tokens, layer {layer}): "
          f"{replay_s:.3f} s; generate with capture: {gen_s:.3f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--hidden", type=int, default=896, help="hidden size (0.5B: 896)")
    parser.add_argument("--tokens", type=int, default=120, help="tokens in a step")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--no-teacher", action="store_true")
    args = parser.parse_args()
    bench_monitor(args.hidden, args.tokens, args.repeats)
    bench_train(args.hidden, runs=100, steps=15)
    if not args.no_teacher:
        bench_teacher(args.model, args.repeats)


if __name__ == "__main__":
    main()
