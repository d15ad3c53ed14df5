"""Forgetting and consolidation on ledger: CE vs EAFT, retrain vs merge, adapter switching.

    ENGRAM_MODEL__THREADS=1 nice -n 5 .venv/bin/python scripts/bench_forgetting.py \\
        --work /tmp/engram-learn-bench [--humaneval-n 8] [--parts learn,merge,switch]

Data: the verified runs of the embedded model on ledger (`--runs` folders; default the
shared run stores), copied into fresh private homes under `--work`. Nothing shared is
modified. The repository is a clone of the bench's clean ledger checkout.

Parts (each prints one JSON line as it finishes and the whole report is written to
`--work/report.json`):

- `learn`: `memory.learn.learn` exactly as `engram learn --repo ledger` runs it, once
  with `--loss eaft` and once with `--loss ce` (same data, seed, steps, replay): the
  gate's numbers before (base model) and after (HumanEval-subset pass@1, held-out code
  loss, held-out next-action loss on the held-out verified demonstration), the gate's
  decision, consolidation seconds per self-edit, peak RSS of training.
- `merge`: with the learn part's self-edits: v1 = retrain on the first demonstration;
  then v2 two ways — retrain on both, or train a delta on the second and merge it into
  v1 (`cat`) — each scored on the held-out action loss and the held-out code loss, with
  seconds.
- `switch`: adapter load and switch time between two repos' adapters (the CE and EAFT
  candidates stand in for two repositories), through PeftLM (hf/PEFT, in process) and
  the llamacpp backend (GGUF LoRA; the first load converts, later loads are cached):
  load, first-token latency with each adapter after switching, and the base.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_RUNS = [Path("/root/.engram/runs"), Path("/tmp/engram-smallpol/runs")]
LEDGER = Path("/root/.engram/bench/repos/example-ledger/clean")


def log(obj) -> None:
    print(json.dumps(obj, default=str), flush=True)


def copy_runs(sources: list[Path], repo_id: str, dest: Path) -> list[str]:
    from memory.trajectories import TrajectoryStore

    copied = []
    for source in sources:
        for t in TrajectoryStore(source):
            if t.repo_id == repo_id and t.eligible_for_learning and t.resolved:
                shutil.copytree(source / t.run_id, dest / t.run_id, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("snapshots.git"))  # fmt: skip
                copied.append(t.run_id)
    return copied


def learn_arm(loss: str, repo: Path, work: Path, runs: list[Path], lm, n: int, seed_cache):
    from agent.config import EngramConfig
    from agent.home import Home
    from memory.learn import learn

    home = Home(work / f"home-{loss}")
    shutil.rmtree(home.root, ignore_errors=True)
    home.runs.mkdir(parents=True)
    from sandboxes.repo import repo_identity

    repo_id = repo_identity(repo).id
    used = copy_runs(runs, repo_id, home.runs)
    if not used:
        raise SystemExit(f"no verified runs of {repo_id} in {', '.join(map(str, runs))}")
    if seed_cache is not None and seed_cache.is_file():  # the base model's numbers, reused
        target = home.repo_dir(repo_id) / "eval_cache.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(seed_cache, target)
    config = EngramConfig()
    lines: list[str] = []
    t0 = time.perf_counter()
    result = learn(repo, home, config, lm=lm, loss=loss, notes=False, humaneval_n=n,
                   progress=lambda m: (lines.append(m), print(f"  [{loss}] {m}", flush=True)))  # fmt: skip
    wall = time.perf_counter() - t0
    return home, repo_id, {
        "loss": loss, "runs": len(used), "wall_s": wall,
        "version": result.version if result else None,
        "status": result.status.value if result else None,
        "notes": result.notes if result else None,
        "metrics": result.metrics if result else None,
        "hyperparameters": result.hyperparameters.model_dump() if result else None,
    }  # fmt: skip


def merge_arm(lm, home, repo_id, config, max_steps: int | None = None) -> dict:
    from memory.action_loss import demonstration_loss
    from memory.consolidate import merge, retrain
    from memory.demonstrations import training_chats
    from memory.heldout import heldout_loss
    from memory.replay import replay_examples
    from memory.self_edit_store import SelfEditStore
    from memory.trainer import TrainerConfig

    store = SelfEditStore(home)
    train = store.list(repo_id, "accepted")
    held = [c for e in store.list(repo_id, "heldout") for c in training_chats(e)]
    if len(train) < 2 or not held:
        return {"skipped": f"needs 2 trained and 1 held-out demonstration, has {len(train)}, "
                           f"{len(held)}"}  # fmt: skip
    first, second = training_chats(train[0]), training_chats(train[1])
    settings = TrainerConfig(loss=config.memory.loss, seed=config.model.seed, max_steps=max_steps)
    share = config.memory.replay_share
    work = home.root / "merge-bench"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()

    def score(path: Path) -> dict:
        lm.load_adapter("bench", path)
        try:
            with lm.active("bench") as model:
                code = heldout_loss(model, lm.tokenizer).mean_loss
        finally:
            lm.unload_adapter("bench")
        return {"action_loss": demonstration_loss(lm, path, held), "heldout_code_loss": code}

    v1 = retrain(lm, first + replay_examples(len(first), share), settings, work / "v1")
    both = first + second
    re = retrain(lm, both + replay_examples(len(both), share), settings, work / "v2-retrain")
    me = merge(lm, second + replay_examples(len(second), share), settings, work / "v2-merge",
               current=work / "v1")  # fmt: skip
    return {
        "v1": {"seconds": v1.seconds, **score(v1.adapter_dir)},
        "retrain": {"seconds": re.seconds, "rank": re.lora_rank, "steps": re.stats.steps,
                    **score(re.adapter_dir)},
        "merge": {"seconds": me.seconds, "rank": me.lora_rank, "steps": me.stats.steps,
                  **score(me.adapter_dir)},
        "base_action_loss": demonstration_loss(lm, None, held),
    }  # fmt: skip


def first_token_s(backend, adapter: str | None) -> float:
    from agent.backends.base import GenerationOptions
    from agent.types import ChatMessage

    msgs = [ChatMessage(role="user", content="Write a Python function that adds two numbers.")]
    t0 = time.perf_counter()
    backend.generate(msgs, adapter=adapter, options=GenerationOptions(max_new_tokens=1))
    return time.perf_counter() - t0


def switch_arm(backend, a: Path, b: Path, reps: int = 3) -> dict:
    loads = {}
    for name, path in (("repo-a", a), ("repo-b", b)):
        t0 = time.perf_counter()
        backend.load_adapter(name, path)
        loads[name] = time.perf_counter() - t0
    base = [first_token_s(backend, None) for _ in range(reps)]
    switched = []
    for _ in range(reps):
        switched.append(first_token_s(backend, "repo-a"))
        switched.append(first_token_s(backend, "repo-b"))
    for name in ("repo-a", "repo-b"):
        backend.unload_adapter(name)
    # Loaded again: the llamacpp backend's GGUF conversion is cached by now.
    t0 = time.perf_counter()
    backend.load_adapter("repo-a", a)
    reload_s = time.perf_counter() - t0
    backend.unload_adapter("repo-a")
    return {"load_s": loads, "reload_s": reload_s,
            "first_token_base_s": statistics.median(base),
            "first_token_after_switch_s": statistics.median(switched)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--runs", type=Path, nargs="*", default=DEFAULT_RUNS)
    parser.add_argument("--repo", type=Path, default=LEDGER)
    parser.add_argument("--humaneval-n", type=int, default=8)
    parser.add_argument("--parts", default="learn,merge,switch")
    parser.add_argument(
        "--merge-max-steps",
        type=int,
        default=None,
        help="cap the merge part's trainings (same cap for both methods)",
    )
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ["ENGRAM_HOME"] = str(args.work / "home-scratch")
    repo = args.work / "ledger"
    if not repo.is_dir():
        subprocess.run(["git", "clone", "-q", str(args.repo), str(repo)], check=True)
        # The repo id comes from the root commit *and* the remote: no remote, same id.
        subprocess.run(["git", "-C", str(repo), "remote", "remove", "origin"], check=True)
    report_path = args.work / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    report["load_average"] = os.getloadavg()
    report["threads"] = os.environ.get("ENGRAM_MODEL__THREADS")

    from agent.config import load_config
    from agent.home import Home
    from memory.learn import load_lm

    config = load_config().config
    t0 = time.perf_counter()
    lm = load_lm(config, Home(Path(os.environ["ENGRAM_HOME"])))
    log({"model_load_s": time.perf_counter() - t0})
    homes = {}
    if "learn" in parts:
        cache = None
        for loss in ("eaft", "ce"):
            home, repo_id, result = learn_arm(loss, repo, args.work, args.runs, lm,
                                              args.humaneval_n, cache)  # fmt: skip
            cache = home.repo_dir(repo_id) / "eval_cache.json"
            homes[loss] = (home, repo_id)
            report[f"learn_{loss}"] = result
            log({f"learn_{loss}": result})
            report_path.write_text(json.dumps(report, indent=2, default=str))
    if "merge" in parts:
        from sandboxes.repo import repo_identity

        home = homes.get("eaft", (Home(args.work / "home-eaft"), None))[0]
        report["merge"] = merge_arm(lm, home, repo_identity(repo).id, config, args.merge_max_steps)
        log({"merge": report["merge"]})
        report_path.write_text(json.dumps(report, indent=2, default=str))
    if "switch" in parts:
        from memory.adapter_store import FileAdapterStore
        from sandboxes.repo import repo_identity

        repo_id = repo_identity(repo).id
        a = FileAdapterStore(Home(args.work / "home-eaft").adapters).version_path(repo_id, 1)
        b = FileAdapterStore(Home(args.work / "home-ce").adapters).version_path(repo_id, 1)
        report["switch_peft"] = switch_arm(lm, a, b)
        log({"switch_peft": report["switch_peft"]})
        lm.close()
        del lm
        from agent.backends.llamacpp import LlamaCppBackend

        threads = config.model.threads
        t0 = time.perf_counter()
        llama = LlamaCppBackend(config.model.name, threads=threads,
                                home_root=Path(os.environ["ENGRAM_HOME"]))  # fmt: skip
        load_s = time.perf_counter() - t0
        report["switch_llamacpp"] = {"model_load_s": load_s, **switch_arm(llama, a, b)}
        log({"switch_llamacpp": report["switch_llamacpp"]})
        report_path.write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
