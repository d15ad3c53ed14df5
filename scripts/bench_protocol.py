"""How well does the embedded model follow the text protocol? Measured, not claimed.

Usage:
    .venv/bin/python scripts/bench_protocol.py [--repo examples/ledger] [--samples 1]
        [--max-new-tokens 256] [--out /tmp/engram-protocol-replies.jsonl]
    .venv/bin/python scripts/bench_protocol.py --summarize REPLIES.jsonl
    .venv/bin/python scripts/bench_protocol.py --prompt-size

Builds real agent turns on a copy of the repository with a bug injected (Money.__add__
subtracts): the system prompt carries `render_protocol`, earlier steps are replayed
through the real tools (so observations are what the agent would see), then the
embedded model (Qwen2.5-Coder-0.5B-Instruct, transformers, CPU) writes the next
reply. Each reply is parsed (`parse_action`), validated, and executed in a Docker sandbox
(the model's commands are untrusted: no network, nothing of the host). Prints, over all replies: parsed into a valid call, strictly well-formed
(a closed ```tool block, no leniency needed), ran without a tool error, succeeded
(exit code 0, tests passing, edit applied); the tools chosen; and the format errors
met. Greedy decoding plus `--samples` sampled replies
(temperature 0.7) per scenario; generation stops after the first complete fenced block.
Replies are written to --out for inspection.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.bench_tools import GIT_ENV, git_repo_copy
from tools.base import ToolContext, validate_arguments
from tools.protocol import FormatError, parse_action, render_protocol
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


def after_first_block(tokenizer, prompt_length: int):
    """Stop generating once the reply holds a complete fenced block, as an agent would:
    what follows the first action is never used. Greedy replies are unchanged by it."""
    from transformers import StoppingCriteria

    class FirstBlock(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            text = tokenizer.decode(input_ids[0][prompt_length:], skip_special_tokens=True)
            fences = [ln for ln in text.split("\n") if ln.strip().startswith(("```", "~~~"))]
            return len(fences) >= 2 and text.rstrip().endswith(("```", "~~~"))

    return FirstBlock()


def print_prompt_size(model_ref: str) -> None:
    from transformers import AutoTokenizer

    from agent.home import engram_home
    from agent.models.loader import resolve_model
    from tools.registry import ToolRegistry

    models_dir = Path(os.environ.get("ENGRAM_MODELS") or engram_home() / "models")
    target, extra = resolve_model(model_ref, models_dir).load_args
    tokenizer = AutoTokenizer.from_pretrained(target, **extra)
    specs = ToolRegistry().specs()
    for fmt in ("text", "native"):
        text = render_protocol(specs, fmt)
        print(
            f"protocol text ({fmt}): {len(tokenizer(text)['input_ids'])} tokens, {len(text)} chars"
        )


def summarize(records: list[dict]) -> None:
    """Print the figures of a run from its records (also: --summarize FILE)."""
    n = len(records)
    valid = [r for r in records if "result" in r]
    strict = [r for r in records if "call" in r and STRICT.search(r["reply"])]
    clean = [r for r in valid if r["result"]["kind"] is None]
    done = [r for r in valid if r["result"]["ok"]]
    tools = collections.Counter(r["call"]["name"] for r in records if "call" in r)
    errors: collections.Counter[str] = collections.Counter()
    for r in records:
        if "format_error" in r:
            errors[r["format_error"].split("\n")[0][:90]] += 1
        elif r.get("problems"):
            errors[f"bad arguments for {r['call']['name']}: {r['problems'][0]}"] += 1

    def share(part: list) -> str:
        return f"{len(part)}/{n} ({100 * len(part) / max(1, n):.0f} %)"

    print(f"  parsed into a valid call:        {share(valid)}")
    print(f"  strictly well-formed block:      {share(strict)}")
    print(f"  ran without a tool error:        {share(clean)}")
    print(f"  succeeded (exit 0, tests pass):  {share(done)}")
    print(f"  tools chosen: {dict(tools.most_common())}")
    for message, count in errors.most_common():
        print(f"  format/argument error ×{count}: {message}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", default="examples/ledger")
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--out", default="/tmp/engram-protocol-replies.jsonl")
    parser.add_argument("--summarize", metavar="FILE", help="only print the figures of a saved run")
    parser.add_argument(
        "--prompt-size", action="store_true", help="only print the protocol text's size in tokens"
    )
    args = parser.parse_args()
    if args.prompt_size:
        print_prompt_size(args.model)
        return
    if args.summarize:
        records = [json.loads(line) for line in Path(args.summarize).read_text().splitlines()]
        print(f"{len(records)} replies from {args.summarize}")
        summarize(records)
        return

    import torch

    from agent.home import engram_home
    from agent.models.loader import load_causal_lm, resolve_model
    from sandboxes.container import DockerSandbox
    from sandboxes.workspace import Workspace

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    models_dir = Path(os.environ.get("ENGRAM_MODELS") or engram_home() / "models")
    model, tokenizer = load_causal_lm(resolve_model(args.model, models_dir), "bfloat16", "cpu")
    print(f"model {args.model} loaded in {model.engram_load_seconds:.1f} s")

    scratch = Path(tempfile.mkdtemp(prefix="engram-bench-protocol-"))
    repo = git_repo_copy(Path(args.repo).resolve(), scratch / "repo")
    inject_bug(repo)
    ws = Workspace.create(repo, scratch / "ws", scratch / "snap.git", "bench-protocol")
    # Never a LocalSandbox here: the model's commands (pip install …) would reach the host.
    box = DockerSandbox(ws)
    base = ws.base_snapshot
    records = []
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
                    stopping_criteria=[after_first_block(tokenizer, ids["input_ids"].shape[1])],
                )  # fmt: skip
            gen_seconds += time.perf_counter() - started
            new = out[0][ids["input_ids"].shape[1] :]
            tokens += len(new)
            text = tokenizer.decode(new, skip_special_tokens=True)
            finished = len(new) < args.max_new_tokens
            parsed = parse_action(text, toolbox.specs(), finished)
            record: dict = {"scenario": name, "sample": sample, "reply": text, "finished": finished}
            if isinstance(parsed, FormatError):
                record["format_error"] = parsed.message
            else:
                record["call"] = parsed.call.model_dump()
                spec = toolbox.registry.get(parsed.call.name)
                assert spec is not None
                _, problems = validate_arguments(spec.spec, parsed.call.arguments)
                record["problems"] = problems
                if not problems:
                    result = toolbox.run(parsed.call)
                    record["result"] = {"ok": result.ok or result.submitted,
                                        "kind": result.error_kind, "text": result.text[:400]}  # fmt: skip
            records.append(record)
            label = record.get("call", {}).get("name") or "FORMAT ERROR"
            print(f"  {name:<32} sample {sample}: {label}")
    box.close()
    shutil.rmtree(scratch, ignore_errors=True)
    Path(args.out).write_text("\n".join(json.dumps(r) for r in records) + "\n")
    print(f"\n{len(records)} replies ({len(SCENARIOS)} scenarios × {1 + args.samples}), "
          f"{tokens} tokens generated, {gen_seconds / len(records):.0f} s per reply "
          "(prefill included)")  # fmt: skip
    summarize(records)
    print(f"replies: {args.out}")


def _render(toolbox: Toolbox, call: ToolCall) -> str:
    from tools.calls import render_text_call

    tool = toolbox.registry.get(call.name)
    assert tool is not None
    return render_text_call(tool.spec, call.arguments)


if __name__ == "__main__":
    main()
