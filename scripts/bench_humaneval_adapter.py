"""Why does an adapter lose HumanEval problems: the reply's form, or the code?

    .venv/bin/python scripts/bench_humaneval_adapter.py ADAPTER_DIR [--n 8] [--show 4]

ADAPTER_DIR is one adapter version (a folder with `adapter_config.json`, such as
`$ENGRAM_HOME/adapters/<repo>/v0001`, or a candidate the gate refused). The script runs
the gate's HumanEval subset (`memory.humaneval`, greedy, the same n problems) with the
base model and with the adapter, through PeftLM on this machine's device, the programs
in a Docker sandbox, and prints one JSON line per problem (both outcomes, the reply's
form, the error's kind) and then a summary:

- `form`: does the reply hold a ```python block, does that block define the entry
  point, did it stop at the closing fence, how many tokens;
- `error`: for a failed program, the last exception's name in the output (SyntaxError,
  IndentationError and NameError point at form or truncation; AssertionError at a wrong
  answer); `no_code` when nothing could be extracted;
- lost / gained problems, and how many of the lost ones changed form.

With `--show K` the replies of the first K lost problems are printed in full.

With `--replay-only` a second adapter is trained first, on the replay chats alone
(`memory.replay`, the same count and seed as the adapter's round, its manifest's
hyperparameters and epochs) and scored the same way: does the general-code replay, or
the repository's self-edits, move the model?
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

_ERROR = re.compile(r"^(\w+(?:Error|Exception)|AssertionError)\b", re.MULTILINE)


def form(reply: str, entry_point: str) -> dict:
    from memory.humaneval import extract_code

    code = extract_code(reply, entry_point)
    defines = re.search(rf"^\s*def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE)
    return {
        "python_block": "```python" in reply,
        "defines_entry_point": defines is not None,
        "closed": reply.count("```") >= 2 or reply.rstrip().endswith("```"),
        "starts_with": reply.lstrip()[:24],
    }


def error_kind(sample) -> str | None:
    if sample.passed:
        return None
    if sample.outcome in ("no_code", "timeout"):
        return sample.outcome
    found = _ERROR.findall(sample.output_tail)
    return found[-1] if found else "unknown"


def replay_only_adapter(lm, adapter: Path, out: Path) -> Path:
    """An adapter trained on the replay chats alone, as the adapter's own round drew them
    (its manifest: hyperparameters, replay count, seed 0), for the same epochs."""
    from agent.types import TrainingHyperparams
    from memory.consolidate import retrain
    from memory.replay import replay_examples, replay_pool
    from memory.trainer import TrainerConfig

    manifest = json.loads((adapter / "manifest.json").read_text())
    metrics = manifest["metrics"]
    n_replay = int(metrics["replay_examples"])
    n_repo = int(metrics["train_examples"]) - n_replay
    chats = replay_examples(n_repo, 0.3, seed=0)
    if len(chats) != n_replay:  # the share or the pool changed since that round
        sys.exit(f"drew {len(chats)} replay chats, the round had {n_replay} "
                 f"(pool {len(replay_pool())})")  # fmt: skip
    hp = TrainingHyperparams.model_validate(manifest["hyperparameters"])
    retrain(lm, chats, TrainerConfig.from_hyperparams(hp, seed=0), out)
    return out


def compare(problems, base, tuned, label: str, show: int) -> dict:
    lost, gained, lost_changed_form = [], [], 0
    for problem, b, t in zip(problems, base.samples, tuned.samples, strict=True):
        fb, ft = form(b.completion, problem.entry_point), form(t.completion, problem.entry_point)
        row = {
            "arm": label, "task_id": problem.task_id,
            "base": b.outcome, "adapter": t.outcome,
            "base_error": error_kind(b), "adapter_error": error_kind(t),
            "base_tokens": b.generated_tokens, "adapter_tokens": t.generated_tokens,
            "base_form": fb, "adapter_form": ft,
        }  # fmt: skip
        print(json.dumps(row), flush=True)
        if b.passed and not t.passed:
            lost.append((problem, b, t))
            keys = ("python_block", "defines_entry_point", "closed")
            lost_changed_form += any(fb[k] != ft[k] for k in keys)
        elif t.passed and not b.passed:
            gained.append(problem.task_id)
    for problem, b, t in lost[:show]:
        print(f"\n===== {label} {problem.task_id}: base passed, adapter {t.outcome}")
        print("--- base reply\n" + b.completion)
        print("--- adapter reply\n" + t.completion)
        print("--- adapter output\n" + t.output_tail)
    middle = len(problems) // 2
    return {
        "arm": label,
        "base_passed": base.passed,
        "adapter_passed": tuned.passed,
        "lost": [p.task_id for p, _, _ in lost],
        "gained": gained,
        "lost_with_a_changed_form": lost_changed_form,
        "adapter_errors": [error_kind(x) for x in tuned.samples if not x.passed],
        "base_errors": [error_kind(x) for x in base.samples if not x.passed],
        "median_tokens": {
            "base": sorted(x.generated_tokens for x in base.samples)[middle],
            "adapter": sorted(x.generated_tokens for x in tuned.samples)[middle],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("adapter", type=Path)
    parser.add_argument("--n", type=int, default=8, help="HumanEval subset size (the gate's: 8)")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--show", type=int, default=0, help="print the replies of K lost problems")
    parser.add_argument("--replay-only", action="store_true",
                        help="also train an adapter on the round's replay chats alone and "
                        "score it the same way")  # fmt: skip
    args = parser.parse_args()

    from memory.humaneval import run_humaneval, scratch_sandbox, subset
    from memory.peft_lm import PeftLM

    if not (args.adapter / "adapter_config.json").is_file():
        sys.exit(f"{args.adapter} holds no adapter (adapter_config.json missing)")
    started = time.perf_counter()
    lm = PeftLM.load(args.model)
    arms = ["candidate"]
    with tempfile.TemporaryDirectory(prefix="engram-replay-only-") as tmp:
        if args.replay_only:  # trained first: training needs a model without adapters
            trained = time.perf_counter()
            lm.load_adapter("replay-only", replay_only_adapter(lm, args.adapter, Path(tmp) / "a"))
            print(json.dumps({"replay_only_train_s": round(time.perf_counter() - trained, 1)}))
            arms.append("replay-only")
        lm.load_adapter("candidate", args.adapter)
        problems = subset(args.n)
        with scratch_sandbox() as box:
            base = run_humaneval(lm, box, problems, adapter=None)
            results = {arm: run_humaneval(lm, box, problems, adapter=arm) for arm in arms}
    summaries = [compare(problems, base, results[arm], arm, args.show) for arm in arms]
    seconds = round(time.perf_counter() - started, 1)
    for summary in summaries:
        print(json.dumps({"adapter": str(args.adapter), "n": args.n, **summary,
                          "seconds": seconds}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
