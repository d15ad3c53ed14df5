"""Knowledge incorporation: does a LoRA adapter trained on the model's own repo notes and
QA pairs answer closed-book questions about the repository better?

Per repository (the bundled example and a real PyPI project, both from the bench store):

1. the held-out questions (memory.repo_questions, seed 0) — made from the index;
2. notes from the repository (memory.notes.notes_from_repo, module by module) and from
   the verified runs on record for it (notes_from_run), written by the embedded model
   through the llama.cpp backend; QA pairs from the kept notes;
3. self-edits (memory.qa.note_self_edits) minus any containing a question's text;
4. a LoRA adapter trained on them (memory.trainer.train_lora, EAFT), proposed to the
   adapter store of this private ENGRAM_HOME;
5. closed-book accuracy on the same questions for base / notes in context / adapter /
   adapter + notes, with 95 % Wilson intervals.

    ENGRAM_HOME=/tmp/engram-kb ENGRAM_MODELS=/root/.engram/models ENGRAM_MODEL__THREADS=1 \
      nice -n 5 .venv/bin/python scripts/bench_knowledge.py --out /tmp/engram-kb/knowledge.json

Runs for the example repository are read from `--runs` (default ENGRAM_HOME/runs).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wilson_text(k: int, n: int) -> str:
    from bench.stats import wilson

    low, high = wilson(k, n)
    return f"{100 * k / n:5.1f} % [{100 * low:4.1f}, {100 * high:4.1f}]"


def verified_runs(runs_dir: Path, repo_id: str):
    from memory.trajectories import TrajectoryStore

    if not runs_dir.is_dir():
        return []
    store = TrajectoryStore(runs_dir)
    out = []
    for run_id in store.run_ids():
        try:
            trajectory = store.load(run_id)
        except Exception as exc:  # a damaged run teaches nothing; say so and go on
            log(f"  skipping run {run_id}: {exc}")
            continue
        if trajectory.repo_id == repo_id and trajectory.eligible_for_learning:
            out.append(trajectory)
    return out


def write_self_edits(args, spec: str, home, config) -> dict:
    """Steps 1–3: questions, notes, QA, self-edits (with the llama.cpp backend)."""
    from agent.backends.llamacpp import LlamaCppBackend
    from bench.repos import BenchRepos
    from memory.notes import NotesStore, notes_from_repo, notes_from_run, qa_from_notes
    from memory.qa import note_self_edits
    from memory.repo_eval import exclude_held_out
    from memory.repo_questions import repo_questions
    from sandboxes.repo import repo_identity
    from tools.index import SymbolIndex

    repo = BenchRepos(home).open(spec, log).path
    repo_id = repo_identity(repo).id
    index = SymbolIndex.build(repo)
    questions = repo_questions(repo, index, n=args.questions, seed=0)
    log(f"{spec}: {repo_id}, {len(questions)} questions")
    lm = LlamaCppBackend.from_config(config.model, home)
    try:
        started = time.perf_counter()
        result = notes_from_repo(lm, repo, index, max_files=args.max_files, seed=args.seed,
                                 progress=lambda i, n, p: log(f"  notes {i}/{n} {p}"))  # fmt: skip
        runs = verified_runs(Path(args.runs) if args.runs else home.runs, repo_id)
        run_results = [notes_from_run(lm, t, repo, index, seed=args.seed) for t in runs]
        notes = list(result.kept)
        for r in run_results:
            notes.extend(r.kept)
        kept = NotesStore(home).add(repo_id, notes)
        notes_s = time.perf_counter() - started
        started = time.perf_counter()
        qa = qa_from_notes(lm, kept, seed=args.seed)
        qa_s = time.perf_counter() - started
    finally:
        lm.close()
    edits = note_self_edits(repo_id, kept, qa)
    edits, leaked = exclude_held_out(edits, questions)
    dropped = [*result.dropped, *(d for r in run_results for d in r.dropped)]
    reasons: dict[str, int] = {}
    for _, why in dropped:
        key = why.split(":", 1)[0]
        reasons[key] = reasons.get(key, 0) + 1
    info = {
        "spec": spec, "repo": str(repo), "repo_id": repo_id,
        "questions": [q.model_dump() for q in questions],
        "modules": result.replies, "runs": len(runs),
        "replies": result.replies + sum(r.replies for r in run_results),
        "malformed": result.malformed + sum(r.malformed for r in run_results),
        "notes_kept": len(kept), "notes_dropped": len(dropped), "drop_reasons": reasons,
        "qa_pairs": len(qa), "self_edits": len(edits), "leaked_dropped": len(leaked),
        "notes_seconds": notes_s, "qa_seconds": qa_s,
        "seconds_per_self_edit": (notes_s + qa_s) / max(1, len(edits)),
        "kept_notes": [n.model_dump() for n in kept], "qa": qa,
        "dropped_examples": [(n.text, why) for n, why in dropped[:12]],
    }  # fmt: skip
    log(f"  {len(kept)} notes kept, {len(dropped)} dropped {reasons}, {len(qa)} QA pairs, "
        f"{len(edits)} self-edits ({len(leaked)} dropped as leaks), "
        f"{info['seconds_per_self_edit']:.1f} s per self-edit")  # fmt: skip
    info["_edits"] = edits
    return info


def reuse_self_edits(info: dict) -> dict:
    """Self-edits rebuilt from an earlier run's kept notes and QA pairs (no generation):
    for trying another way of turning the same notes into training text."""
    from memory.note import Note
    from memory.qa import note_self_edits
    from memory.repo_eval import exclude_held_out
    from memory.repo_questions import RepoQuestion

    questions = [RepoQuestion.model_validate(q) for q in info["questions"]]
    notes = [Note.model_validate(n) for n in info["kept_notes"]]
    edits = note_self_edits(info["repo_id"], notes, [tuple(p) for p in info["qa"]])
    edits, leaked = exclude_held_out(edits, questions)
    info.update(self_edits=len(edits), leaked_dropped=len(leaked), _edits=edits,
                seconds_per_self_edit=(info["notes_seconds"] + info["qa_seconds"]) / len(edits),
                reused_arms={k: v for k, v in info["arms"].items() if k in ("base", "notes")})  # fmt: skip
    log(f"{info['spec']}: reusing {len(notes)} notes and {len(info['qa'])} QA pairs: "
        f"{len(edits)} self-edits ({len(leaked)} dropped as leaks)")  # fmt: skip
    return info


def train_and_evaluate(args, info: dict, home, config, lm) -> dict:
    """Steps 4–5."""
    from agent.types import AdapterVersion
    from memory.adapter_store import FileAdapterStore
    from memory.notes import notes_for_prompt
    from memory.repo_eval import base_model_hash, evaluate_repo
    from memory.repo_questions import RepoQuestion
    from memory.trainer import TrainerConfig, train_lora

    repo, repo_id = Path(info["repo"]), info["repo_id"]
    questions = [RepoQuestion.model_validate(q) for q in info["questions"]]
    edits = info.pop("_edits")
    notes = notes_for_prompt(home, repo_id)
    arms = {}

    def arm(name: str, version: int | None, with_notes: bool) -> None:
        result = evaluate_repo(repo, home, config, repo_id=repo_id, version=version,
                               notes=notes if with_notes else None, lm=lm,
                               questions=questions)  # fmt: skip
        arms[name] = result.model_dump()
        log(f"  {name:16s} {result.correct}/{result.questions}  ({result.seconds:.0f} s) "
            f"{result.details['by_kind']}")  # fmt: skip

    for name, with_notes in (("base", False), ("notes", True)):
        if name in info.get("reused_arms", {}):  # no adapter: the same answers as before
            arms[name] = info["reused_arms"][name]
            log(f"  {name:16s} {arms[name]['correct']}/{arms[name]['questions']} (earlier run)")
        else:
            arm(name, None, with_notes)
    trainer = TrainerConfig(learning_rate=args.lr, epochs=args.epochs, loss="eaft",
                            max_seq_len=512, seed=args.seed)  # fmt: skip
    out = home.root / "knowledge-train" / repo_id
    shutil.rmtree(out, ignore_errors=True)
    log(f"  training on {len(edits)} self-edits: lr {args.lr}, {args.epochs} epochs")
    trained = train_lora(
        lm.base,
        lm.tokenizer,
        [e.messages for e in edits],
        trainer,
        out,
        progress=lambda p: (
            p.step % 10 == 0
            and log(f"    step {p.step}/{p.total_steps} loss {p.loss:.3f} ce {p.ce:.3f}")
        ),
    )
    lm.base = trained.model.unload()  # back to the plain base model for the next arms
    stats = trained.stats
    manifest = AdapterVersion(
        repo_id=repo_id, version=0, base_model_id=lm.model_id,
        base_model_hash=base_model_hash(config, home),
        self_edit_hashes=[e.id for e in edits], hyperparameters=trainer.hyperparams(),
        notes="bench_knowledge: repo notes + QA",
    )  # fmt: skip
    version = FileAdapterStore(home.adapters).propose(repo_id, out, manifest).version
    arm("adapter", version, False)
    if not args.no_adapter_notes:
        arm("adapter+notes", version, True)
    info.update(arms=arms, train={"steps": stats.steps, "seconds": stats.seconds,
                                  "first_ce": stats.ce_losses[0], "last_ce": stats.ce_losses[-1],
                                  "target_tokens": stats.target_tokens},
                notes_chars=len(notes or ""))  # fmt: skip
    return info


def rescore(results: list[dict]) -> list[dict]:
    """Score the stored answers again with the current scorer (no model needed)."""
    from memory.answer_scoring import score_answer
    from memory.repo_questions import RepoQuestion

    for r in results:
        questions = {q["id"]: RepoQuestion.model_validate(q) for q in r["questions"]}
        for arm in r["arms"].values():
            rows = arm["details"]["answers"]
            for row in rows:
                row["score"] = score_answer(questions[row["id"]], row["answer"])
            arm["correct"] = sum(1 for row in rows if row["score"] >= 1.0)
            arm["mean_score"] = sum(row["score"] for row in rows) / len(rows)
            by_kind: dict[str, dict[str, int]] = {}
            for row in rows:
                cell = by_kind.setdefault(row["kind"], {"correct": 0, "questions": 0})
                cell["questions"] += 1
                cell["correct"] += row["score"] >= 1.0
            arm["details"]["by_kind"] = by_kind
    return results


def print_tables(results: list[dict]) -> None:
    print("\n| repo | questions | base | notes in context | adapter | adapter + notes |")
    print("|---|---|---|---|---|---|")
    for r in results:
        n = len(r["questions"])
        cells = [wilson_text(r["arms"][a]["correct"], n) if a in r["arms"] else "–"
                 for a in ("base", "notes", "adapter", "adapter+notes")]  # fmt: skip
        print(f"| {r['spec']} | {n} | " + " | ".join(cells) + " |")
    kinds = sorted(
        {k for r in results for a in r["arms"].values() for k in a["details"]["by_kind"]}
    )
    print("\n| repo | arm | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    for r in results:
        for name, arm in r["arms"].items():
            by = arm["details"]["by_kind"]
            cells = [f"{by[k]['correct']}/{by[k]['questions']}" if k in by else "–" for k in kinds]
            print(f"| {r['spec']} | {name} | " + " | ".join(cells) + " |")
    print("\n| repo | notes kept / dropped | QA pairs | self-edits | s per self-edit | train |")
    print("|---|---|---|---|---|---|")
    for r in results:
        t = r["train"]
        print(f"| {r['spec']} | {r['notes_kept']} / {r['notes_dropped']} | {r['qa_pairs']} | "
              f"{r['self_edits']} | {r['seconds_per_self_edit']:.1f} | {t['steps']} steps, "
              f"{t['seconds']:.0f} s, CE {t['first_ce']:.2f} → {t['last_ce']:.2f} |")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", default="example:ledger,pypi:toolz==1.1.0")
    parser.add_argument("--questions", type=int, default=40)
    parser.add_argument("--max-files", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default=None, help="runs folder (default ENGRAM_HOME/runs)")
    parser.add_argument("--out", default=None, help="write all figures as JSON here")
    parser.add_argument("--no-adapter-notes", action="store_true",
                        help="skip the adapter + notes arm (a quicker look at the adapter)")  # fmt: skip
    parser.add_argument("--reuse", default=None,
                        help="an earlier --out file: take its notes, QA and no-adapter arms")  # fmt: skip
    parser.add_argument("--rescore", default=None,
                        help="an earlier --out file: score its stored answers again and print")  # fmt: skip
    args = parser.parse_args()
    if args.rescore:
        print_tables(rescore(json.loads(Path(args.rescore).read_text())))
        return 0

    import torch

    from agent.config import load_config
    from agent.home import Home
    from memory.peft_lm import PeftLM

    home = Home.resolve()
    home.ensure()
    config = load_config().config
    if config.model.threads > 0:
        torch.set_num_threads(config.model.threads)
    specs = args.repos.split(",")
    if args.reuse:
        earlier = {r["spec"]: r for r in json.loads(Path(args.reuse).read_text())}
        infos = [reuse_self_edits(earlier[spec]) for spec in specs]
    else:
        infos = [write_self_edits(args, spec, home, config) for spec in specs]
    lm = PeftLM.load(config.model.name, dtype=config.model.dtype, device=config.model.device)
    results = [train_and_evaluate(args, info, home, config, lm) for info in infos]

    print_tables(results)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=str) + "\n")
        log(f"figures written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
