"""How well does the embedded model follow the text protocol? Measured, not claimed.

Usage:
    .venv/bin/python scripts/bench_protocol.py [--repo examples/ledger] [--samples 1]
        [--max-new-tokens 256] [--out /tmp/engram-protocol-replies.jsonl]

Builds real agent turns on a copy of the repository with a bug injected (Money.__add__
subtracts): the system prompt carries `render_protocol`, earlier steps are replayed
through the real tools (so observations are what the agent would see), then the
embedded model (Qwen2.5-Coder-0.5B-Instruct, transformers, CPU) writes the next
reply. Each reply is parsed (`parse_action`), validated, and executed in a local
sandbox. Prints, over all replies: parsed into a valid call, strictly well-formed
(a closed ```tool block, no leniency needed), executed without error; the tools
chosen; and the format errors met. Greedy decoding plus `--samples` sampled replies
(temperature 0.7) per scenario. Replies are written to --out for inspection.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench_tools import GIT_ENV, git_repo_copy
from tools.base import ToolContext, validate_arguments
from tools.protocol import FormatError, parse_action
from tools.registry import Toolbox
from tools.types import ToolCall

SYSTEM = """\
You are a careful software engineer working in a git repository. You fix the task by
looking at the code, editing it, and running the tests. Each reply is a short thought
(one to three sentences) followed by exactly one action.

{protocol}"""

BUG_TASK = (
    "Adding two Money values gives the wrong result: Money(1, 'EUR') + Money(2, 'EUR') is "
    "-1 EUR instead of 3 EUR. tests/test_money.py fails. Fix the bug."
)
FIX = ToolCall(name="edit", arguments={
    "path": "src/ledger/money.py",
    "old": "        self._check(other)\n        return Money(self.amount - other.amount, self.currency)\n\n    def __sub__",
    "new": "        self._check(other)\n        return Money(self.amount + other.amount, self.currency)\n\n    def __sub__",
})  # fmt: skip
VIEW = ToolCall(name="view", arguments={"path": "src/ledger/money.py", "start": 75})
RUN_MONEY = ToolCall(name="run_tests", arguments={"tests": "tests/test_money.py"})
SEARCH_ADD = ToolCall(name="search", arguments={"pattern": "def __add__"})
RUN_ALL = ToolCall(name="run_tests", arguments={})
LOOKED = ("I will read Money.__add__.", VIEW)
FIXED = ("It subtracts; fix it.", FIX)
FEATURE = (
    "Add a method Money.is_positive() that returns True when the amount is above zero, "
    "and a test for it in tests/test_money.py."
)
SCENARIOS: list[tuple[str, str, list[tuple[str, ToolCall]]]] = [
    ("bug: first step", BUG_TASK, []),
    ("bug: after viewing the code", BUG_TASK, [LOOKED]),
    ("bug: after a failing test run", BUG_TASK, [("Let me run the money tests.", RUN_MONEY)]),
    ("bug: after a search", BUG_TASK, [("Where is __add__?", SEARCH_ADD)]),
    ("bug: after the edit", BUG_TASK, [LOOKED, FIXED]),
    ("bug: after tests pass", BUG_TASK, [LOOKED, FIXED, ("Run the tests.", RUN_ALL)]),
    ("feature: new method", FEATURE, []),
    ("crash: cli", "Running `python -m ledger balance --depth 1` crashes. Find out why.", []),
]
STRICT = re.compile(r"```(view|search|edit|create|bash|run_tests|submit)\n.*?\n```", re.S)


def inject_bug(repo: Path) -> None:
    money = repo / "src/ledger/money.py"
    text = money.read_text()
    good = "        self._check(other)\n        return Money(self.amount + other.amount, self.currency)"
    assert text.count(good) == 1, "the example repository changed; update the bug injection"
    money.write_text(text.replace(good, good.replace("+", "-")))
    subprocess.run(["git", "commit", "-qam", "inject bug"], cwd=repo, check=True, env=GIT_ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default="examples/ledger")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--out", default="/tmp/engram-protocol-replies.jsonl")
    args = parser.parse_args()

    import torch

    from agent.home import engram_home
    from agent.models.loader import load_causal_lm, resolve_model
    from sandboxes.local import LocalSandbox
    from sandboxes.workspace import Workspace

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    models_dir = Path(os.environ.get("ENGRAM_MODELS") or engram_home() / "models")
    model, tokenizer = load_causal_lm(resolve_model(args.model, models_dir), "bfloat16", "cpu")
    print(f"model {args.model} loaded in {model.engram_load_seconds:.1f} s")

    scratch = Path(tempfile.mkdtemp(prefix="engram-bench-protocol-"))
    repo = git_repo_copy(Path(args.repo).resolve(), scratch / "repo")
    inject_bug(repo)
    ws = Workspace.create(repo, scratch / "ws", scratch / "snap.git", "bench-protocol")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        box = LocalSandbox(ws)
    base = ws.base_snapshot
    records = []
    counts: collections.Counter[str] = collections.Counter()
    tools: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    tokens = 0
    gen_seconds = 0.0
    for name, task, prefix in SCENARIOS:
        for sample in range(1 + args.samples):
            box.restore(base)
            toolbox = Toolbox(ToolContext(box))
            system = SYSTEM.format(protocol=toolbox.protocol_text())
            messages = [{"role": "system", "content": system}, {"role": "user", "content": task}]
            for thought, call in prefix:
                reply = f"{thought}\n{_render(toolbox, call)}"
                observation = toolbox.run(call)
                messages.append({"role": "assistant", "content": reply})
                messages.append({"role": "user", "content": f"Result:\n{observation.text}"})
            ids = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
            )
            torch.manual_seed(sample)
            started = time.perf_counter()
            with torch.no_grad():
                out = model.generate(
                    **ids, max_new_tokens=args.max_new_tokens, do_sample=sample > 0,
                    temperature=0.7 if sample else None, top_p=0.95 if sample else None,
                    top_k=None, pad_token_id=tokenizer.eos_token_id,
                )  # fmt: skip
            gen_seconds += time.perf_counter() - started
            new = out[0][ids["input_ids"].shape[1] :]
            tokens += len(new)
            text = tokenizer.decode(new, skip_special_tokens=True)
            finished = len(new) < args.max_new_tokens
            parsed = parse_action(text, toolbox.specs(), finished)
            record = {"scenario": name, "sample": sample, "reply": text, "finished": finished}
            counts["replies"] += 1
            if isinstance(parsed, FormatError):
                errors[parsed.message.split("\n")[0][:90]] += 1
                record["format_error"] = parsed.message
            else:
                spec = toolbox.registry.get(parsed.call.name)
                _, problems = validate_arguments(spec.spec, parsed.call.arguments)  # type: ignore[union-attr]
                tools[parsed.call.name] += 1
                if problems:
                    errors[f"bad arguments for {parsed.call.name}: {problems[0]}"] += 1
                else:
                    counts["valid"] += 1
                    result = toolbox.run(parsed.call)
                    counts["executed_ok"] += bool(result.ok or result.submitted)
                    record["result"] = {"ok": result.ok, "kind": result.error_kind,
                                        "text": result.text[:400]}  # fmt: skip
                if STRICT.search(text.replace("\r\n", "\n")):
                    counts["strict"] += 1
                record["call"] = parsed.call.model_dump()
            records.append(record)
            label = record.get("call", {}).get("name") or "FORMAT ERROR"
            print(f"  {name:<32} sample {sample}: {label}")
    box.close()
    Path(args.out).write_text("\n".join(json.dumps(r) for r in records) + "\n")
    n = counts["replies"]
    print(f"\n{n} replies ({len(SCENARIOS)} scenarios × {1 + args.samples}), "
          f"{tokens} tokens in {gen_seconds:.0f} s ({tokens / gen_seconds:.1f} tokens/s)")  # fmt: skip
    print(
        f"  parsed into a valid call:   {counts['valid']}/{n} ({100 * counts['valid'] / n:.0f} %)"
    )
    print(
        f"  strictly well-formed block: {counts['strict']}/{n} ({100 * counts['strict'] / n:.0f} %)"
    )
    print(f"  executed without error:     {counts['executed_ok']}/{n} "
          f"({100 * counts['executed_ok'] / n:.0f} %)")  # fmt: skip
    print(f"  tools chosen: {dict(tools.most_common())}")
    for message, count in errors.most_common():
        print(f"  format/argument error ×{count}: {message}")
    print(f"replies: {args.out}")


def _render(toolbox: Toolbox, call: ToolCall) -> str:
    from tools.calls import render_text_call

    tool = toolbox.registry.get(call.name)
    assert tool is not None
    return render_text_call(tool.spec, call.arguments)


if __name__ == "__main__":
    main()
