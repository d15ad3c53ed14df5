"""What the hallucination probe costs per agent step, on real steps of real runs.

Usage:
    nice -n 5 .venv/bin/python scripts/bench_probe_overhead.py RUN_DIR [--steps 24]
        [--reps 3] [--threads 1] [--out /tmp/engram-bench-probe-overhead.json]

RUN_DIR is a bench run (e.g. from `engram probes collect`); its runs' trajectories give
the steps: their prompts (recorded by the small policy; rebuilt as the free-form policy
builds them otherwise), their replies' lengths and their timings. For each sampled step the default backend
(`llamacpp`, prefix cache on as in the agent) generates the step again with the probe's
layer captured and without it, the same prompt and the same number of new tokens, in
alternating order, `--reps` times; the medians of each call's thread CPU seconds are
compared. Both calls find the
prompt in the prefix cache but for its last token, so they cost the same apart from the
capture. Then `ProbeMonitor.assess` (pooling + step probe + prefix integrator over the
step's real history length) runs on the captured generation with a probe of the model's
hidden size (trained on synthetic features: its cost does not depend on what it learned).

Per step: capture (CPU on − off) + assess, as a share of that step's generation CPU
(off) and of the step's wall time in the original run (`Step.timings.total_s`, which
includes the tools; a resampled step never ran its tool: its generation time then). Medians and the total over the sample are printed, with the load.

With `--inputs baselines` the probe reads only the step's token statistics (min
logprob, mean entropy), which the backend computes for every generation anyway: there
is no capture, so each step is generated once (the "on" and "off" calls are the same
call) and the overhead is `assess` alone.

Not measured: the capture's cost while prefilling the new part of a prompt (the tap
copies one row per evaluated batch; prefill batches are few per step).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.backends.base import GenerationOptions
from agent.types import ChatMessage, Step, Trajectory


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def trajectories(run_dir: Path, home_runs: Path) -> list[Trajectory]:
    from memory.trajectories import TrajectoryStore

    store = TrajectoryStore(home_runs)
    out = []
    for path in sorted((run_dir / "tasks").glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("run_id"):
            try:
                out.append(store.load(result["run_id"]))
            except Exception as exc:  # a run lost to the harness has no trajectory
                print(f"  skipped {result['instance_id']}: {exc}")
    return out


def conversation(system: str, trajectory: Trajectory, upto: int, backend) -> list[ChatMessage]:
    """What the model saw for step `upto`: the step's own prompt where the policy
    recorded it (small), else the free-form conversation of the kept steps before it,
    built as the free-form policy builds it (default limits; no repository outline)."""
    from agent.config import AgentSection, ModelSection
    from agent.prompting import build_messages

    step = trajectory.steps[upto]
    if step.prompt is not None:
        return list(step.prompt)
    model, agent = ModelSection(), AgentSection()
    kept = [s for s in trajectory.steps[:upto] if s.kept]
    messages = build_messages(system, trajectory.task, kept, [], backend.count_tokens,
                              model.context_tokens - model.max_new_tokens,
                              agent.keep_recent_steps, agent.observation_chars)  # fmt: skip
    assert messages is not None
    return messages


def synthetic_probe(hidden: int, scratch: Path, inputs: str):
    """A probe of the model's hidden size (layer 16) fitted on synthetic features."""
    from probes.training import TrainOptions, train_probe
    from scripts.bench_probes import synthetic_dataset

    dataset = synthetic_dataset(scratch, runs=40, steps=12, hidden=hidden)
    probe, _ = train_probe(dataset, "bench", TrainOptions(l2=1.0, inputs=inputs))
    return probe


def timed(backend, messages, tokens: int, layer: int | None):
    options = GenerationOptions(max_new_tokens=tokens, capture_layer=layer)
    cpu = time.thread_time()
    gen = backend.generate(messages, options=options)
    return gen, time.thread_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="/tmp/engram-bench-probe-overhead.json")
    parser.add_argument("--inputs", default="hidden", choices=["hidden", "baselines"],
                        help="the probe's inputs (probes.inputs); baselines: no capture")  # fmt: skip
    args = parser.parse_args()

    from agent.backends.llamacpp import LlamaCppBackend
    from agent.home import Home
    from agent.monitor import MonitorInput
    from agent.prompting import system_prompt
    from probes.features import default_layer
    from probes.monitor import ProbeMonitor
    from tools.registry import ToolRegistry

    home = Home.resolve()
    runs = trajectories(args.run_dir, home.runs)
    candidates = [(t, i) for t in runs for i, s in enumerate(t.steps)
                  if s.actor == "model" and s.tokens.completion_tokens > 1]  # fmt: skip
    random.Random(args.seed).shuffle(candidates)
    picked = sorted(candidates[: args.steps], key=lambda c: (c[0].run_id, c[1]))
    print(f"{len(runs)} runs, {len(candidates)} model steps; sampling {len(picked)}; "
          f"threads {args.threads}; load {load()}", flush=True)  # fmt: skip
    # The agent's system prompt with the text protocol (the repository outline it adds
    # per task is left out: it only lengthens the shared, cached prefix).
    from tools.protocol import render_protocol

    system = system_prompt(render_protocol(ToolRegistry().specs(), "text"))
    backend = LlamaCppBackend(args.model, threads=args.threads)
    layer = default_layer(backend.num_layers) if args.inputs == "hidden" else None
    with tempfile.TemporaryDirectory(prefix="engram-probe-overhead-") as tmp:
        probe = synthetic_probe(backend.hidden_size, Path(tmp), args.inputs)
    rows = []
    for n, (trajectory, i) in enumerate(picked):
        step: Step = trajectory.steps[i]
        messages = conversation(system, trajectory, i, backend)
        tokens = step.tokens.completion_tokens
        backend.generate(messages, options=GenerationOptions(max_new_tokens=1))  # prefill
        samples: dict[str, list[float]] = {"on": [], "off": []}
        captured = None
        for r in range(args.reps):
            if layer is None:  # nothing to capture: one call is both arms
                captured, seconds = timed(backend, messages, tokens, None)
                samples["on"].append(seconds)
                samples["off"].append(seconds)
                continue
            order = (layer, None) if (n + r) % 2 == 0 else (None, layer)
            for which in order:
                gen, seconds = timed(backend, messages, tokens, which)
                samples["on" if which is not None else "off"].append(seconds)
                if which is not None:
                    captured = gen
        assert captured is not None
        cpu = {key: statistics.median(values) for key, values in samples.items()}
        monitor = ProbeMonitor(probe)
        history = [s for s in trajectory.steps[:i] if s.kept]
        started = time.thread_time()
        monitor.assess(MonitorInput(step=step, generation=captured, history=history))
        assess = time.thread_time() - started
        extra = cpu["on"] - cpu["off"] + assess
        step_wall = max(step.timings.total_s, step.timings.model_s)
        row = {"run": trajectory.run_id, "step": i, "tokens": len(captured.token_ids),
               "prompt_tokens": captured.usage.prompt_tokens, "cpu_off_s": cpu["off"],
               "cpu_on_s": cpu["on"], "assess_s": assess, "extra_s": extra,
               "share_of_generation_cpu": extra / cpu["off"],
               "step_wall_s": step_wall,
               "share_of_step_wall": extra / step_wall if step_wall else None}  # fmt: skip
        rows.append(row)
        print(f"  [{n + 1}/{len(picked)}] {row['tokens']:>4} tokens after {row['prompt_tokens']} "
              f"prompt: CPU off {cpu['off']:.2f} s, on {cpu['on']:.2f} s, assess "
              f"{1000 * assess:.2f} ms → {100 * row['share_of_generation_cpu']:+.2f} % of "
              f"generation CPU; step wall {step_wall:.1f} s; load {load()}", flush=True)  # fmt: skip
    backend.close()
    off = sum(r["cpu_off_s"] for r in rows)
    extra = sum(r["extra_s"] for r in rows)
    wall = sum(r["step_wall_s"] for r in rows)
    summary = {
        "steps": len(rows), "inputs": args.inputs, "layer": layer, "threads": args.threads, "reps": args.reps,
        "median_share_of_generation_cpu": statistics.median(r["share_of_generation_cpu"] for r in rows),
        "total_share_of_generation_cpu": extra / off,
        "median_share_of_step_wall": statistics.median(r["share_of_step_wall"] for r in rows
                                                      if r["share_of_step_wall"] is not None),
        "total_share_of_step_wall": extra / wall if wall else None,
        "median_assess_ms": 1000 * statistics.median(r["assess_s"] for r in rows),
        "load": load(),
    }  # fmt: skip
    print(f"probe overhead over {len(rows)} real steps ({args.inputs}, layer {layer}): median "
          f"{100 * summary['median_share_of_generation_cpu']:+.2f} % of generation CPU "
          f"(total {100 * summary['total_share_of_generation_cpu']:+.2f} %), median "
          f"{100 * summary['median_share_of_step_wall']:+.4f} % of the step's wall time in the "
          f"run; assess {summary['median_assess_ms']:.2f} ms; load {summary['load']}")  # fmt: skip
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
