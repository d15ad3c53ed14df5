"""`learn`: new verified runs of a repository → self-edits → a candidate adapter → the gate.

One consolidation, under the repository's lock (`FileAdapterStore.lock`):

1. settle leftovers: a candidate left by a consolidation that was killed before its gate
   is rejected with that reason (it never became current);
2. collect the repo's verified runs not used yet (bootstrap demonstrations only with
   `bootstrap=True`); each gives a demonstration (`memory.demonstrations`) and, from
   `memory.notes`, repo notes and question–answer pairs; with `rest_em=K`
   the notes are sampled K times and the best-scoring set is kept (`memory.rest_em`);
3. select (`memory.selection`: dedupe, one demonstration per task, a held-out share)
   and store them (`SelfEditStore`) *before* training, so a kill loses none;
4. train the candidate (`memory.consolidate`: retrain on all accepted self-edits or
   merge a delta, plus a replay share of general code, `memory.replay`); the
   hyperparameters are the self-edits' proposals clamped and combined
   (`memory.hyperparams`), the loss from config unless a proposal says otherwise;
5. propose it (a candidate version), evaluate it and the incumbent (`memory.evaluation`),
   and let the gate (`memory.gate`) accept it (it becomes current) or reject it (kept,
   with its numbers and the reason).

Returns None when there is nothing new to learn from. Crash safety: training happens
in a hidden `.learn-*.partial` folder the store removes if we die; a version appears
only complete (`propose`), and only the gate makes it current.
"""

from __future__ import annotations

import errno
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent import atomic
from agent.config import EngramConfig
from agent.home import Home
from agent.types import AdapterStatus, AdapterVersion, SelfEdit, Trajectory
from memory.adapter_store import FileAdapterStore
from memory.demonstrations import demonstration, training_chats
from memory.evaluation import Evaluators
from memory.gate import GateConfig, decide
from memory.selection import Candidate, select
from memory.self_edit_store import SelfEditStore
from memory.trajectories import TrajectoryStore

Report = Callable[[str], None]
INTERRUPTED = "a consolidation was interrupted before its gate finished"
REST_EM_STEPS = 4  # optimizer steps per ReST-EM variant: a brief look, not a consolidation


class LearnError(RuntimeError):
    user_facing = True


# --------------------------------------------------------------------------- runs


def pending_runs(home: Home, repo_id: str, bootstrap: bool = False) -> list[Trajectory]:
    """Verified runs of `repo_id` eligible for learning and not yet turned into self-edits."""
    used = SelfEditStore(home).used_runs(repo_id)
    found = []
    for trajectory in TrajectoryStore(home.runs):
        if trajectory.repo_id != repo_id or trajectory.run_id in used:
            continue
        if not (trajectory.eligible_for_learning and trajectory.resolved):
            continue
        if trajectory.source == "bootstrap" and not bootstrap:
            continue
        found.append(trajectory)
    return found


def waiting_runs(home: Home, repo_id: str, bootstrap: bool = False) -> int:
    return len(pending_runs(home, repo_id, bootstrap))


def untrained_edits(
    store: FileAdapterStore, edits: SelfEditStore, repo_id: str, bootstrap: bool = False
) -> list[SelfEdit]:
    """Accepted self-edits that no version was trained on yet. A version rejected because
    its consolidation was interrupted does not count: its edits are still to learn, so a
    killed `learn` is simply done again by the next one."""
    trained: set[str] = set()
    for version in store.list(repo_id):
        if INTERRUPTED not in version.notes:
            trained.update(version.self_edit_hashes)
    return [e for e in edits.list(repo_id, "accepted")
            if e.id not in trained and (bootstrap or e.source != "bootstrap")]  # fmt: skip


# --------------------------------------------------------------------------- helpers


def load_lm(config: EngramConfig, home: Home) -> Any:
    """The embedded model for training and evaluation (PeftLM), with its base hash."""
    from agent.models.loader import resolve_model
    from memory.base_model import identify
    from memory.peft_lm import PeftLM

    if config.model.threads > 0:
        import torch

        torch.set_num_threads(config.model.threads)
    resolved = resolve_model(config.model.name, home.models)
    lm = PeftLM.load(config.model.name, dtype=config.model.dtype, device=config.model.device)
    if resolved.sha256:
        lm.model_sha256 = resolved.sha256
    elif resolved.path is not None and resolved.path.is_dir():
        lm.model_sha256 = identify(resolved.path).hash
    return lm


def _settle_interrupted(store: FileAdapterStore, repo_id: str, say: Report) -> None:
    for version in store.list(repo_id):
        if version.status == AdapterStatus.CANDIDATE:
            store.reject(repo_id, version.version, reason=INTERRUPTED)
            say(f"v{version.version}: left by an interrupted consolidation → rejected")


def _note_edits(lm: Any, trajectory: Trajectory, repo: Path, home: Home, seed: int,
                index: Any) -> list[SelfEdit]:  # fmt: skip
    from memory.notes import NotesStore, note_self_edits, notes_from_run, qa_from_notes

    result = notes_from_run(lm, trajectory, repo, index, seed=seed)
    if not result.kept:
        return []
    if seed == 0:
        NotesStore(home).add(trajectory.repo_id, result.kept)
    qa = qa_from_notes(lm, result.kept, seed=seed)
    return note_self_edits(trajectory.repo_id, result.kept, qa)


def _disk_full(exc: OSError) -> LearnError:
    return LearnError(
        f"the disk is full while saving the adapter ({exc}); nothing was half-written and "
        "no self-edit was lost. Free some space and run `engram learn` again."
    )


# --------------------------------------------------------------------------- learn


def learn(
    repo: Path,
    home: Home,
    config: EngramConfig,
    *,
    lm: Any | None = None,
    rest_em: int = 0,
    bootstrap: bool = False,
    progress: Report | None = None,
    method: str | None = None,
    loss: str | None = None,
    evaluators: Evaluators | None = None,
    notes: bool = True,
    trainer: dict[str, Any] | None = None,
    humaneval_n: int = 8,
    evaluation: dict[str, Any] | None = None,
    lock_timeout: float | None = None,
    repo_id: str | None = None,
) -> AdapterVersion | None:
    """Consolidate the repo's new verified runs (module doc). `trainer` overrides
    TrainerConfig fields that are ours (max_steps, max_seq_len, …); `evaluators` replaces
    the model-backed evaluation (tests), `evaluation` tunes it (ModelEvaluators keywords:
    heldout_windows, qa); `lock_timeout` 0 fails at once when busy. `repo_id` names the
    repository when `repo` is a copy of it with another identity (a run's workspace has
    no remote); by default it is `repo`'s own."""
    from sandboxes.repo import repo_identity

    say = progress or (lambda _m: None)
    identity = repo_identity(repo)
    repo_id = repo_id or identity.id
    method = method or config.memory.method
    store = FileAdapterStore(home.adapters)
    home.ensure(home.adapters, home.repos)
    with store.lock(repo_id, timeout=lock_timeout):
        _settle_interrupted(store, repo_id, say)
        runs = pending_runs(home, repo_id, bootstrap)
        edits_store = SelfEditStore(home)
        if not runs and not untrained_edits(store, edits_store, repo_id, bootstrap):
            return None
        if lm is None:
            say(f"loading {config.model.name} …")
            lm = load_lm(config, home)
        base_hash = getattr(lm, "model_sha256", None)
        if not base_hash:
            raise LearnError("the model does not say which base model it is (no hash); an "
                             "adapter could not be checked against it later")  # fmt: skip
        if runs:
            say(f"{len(runs)} new verified run(s) of {identity.name} ({repo_id})")
            candidates, dropped_variants = _collect(lm, runs, repo, home, config, rest_em, notes,
                                                    edits_store, say, trainer)  # fmt: skip
            candidates, leaked = _without_eval_questions(candidates, repo, home, repo_id)
            if leaked:
                say(f"{len(leaked)} self-edit(s) dropped: they contain the text of a held-out "
                    "repo question")  # fmt: skip
            dropped_variants += leaked
            chosen = select(candidates, edits_store.entries(repo_id))
            task_ids = {c.edit.id: c.task_id for c in candidates if c.task_id}
            new = edits_store.add(repo_id, [(s.edit, s.status, s.reason) for s in chosen]
                                  + dropped_variants, runs=[t.run_id for t in runs],
                                  task_ids=task_ids)  # fmt: skip
            new_ids = {e.id for e in new}
            counts = {s: sum(1 for c in chosen if c.status == s and c.edit.id in new_ids)
                      for s in ("accepted", "heldout", "dropped")}  # fmt: skip
            say(f"self-edits: {counts['accepted']} to train on, {counts['heldout']} held out, "
                f"{counts['dropped']} dropped")  # fmt: skip
        new_train = untrained_edits(store, edits_store, repo_id, bootstrap)
        if not new_train:
            say("no new self-edit to train on")
            return None
        return _consolidate(lm, repo, home, config, store, edits_store, repo_id, base_hash,
                            new_train, method, loss, bootstrap, evaluators, trainer,
                            {"humaneval_n": humaneval_n, **(evaluation or {})}, say)  # fmt: skip


def _without_eval_questions(candidates: list[Candidate], repo: Path, home: Home, repo_id: str
                            ) -> tuple[list[Candidate], list[tuple[SelfEdit, str, str]]]:  # fmt: skip
    """Keep the repo evaluation's questions out of training: a self-edit containing one
    (normalised text) is stored as dropped with the question ids, never trained on."""
    from memory.repo_eval import held_out_questions, leaked_questions

    questions = held_out_questions(repo, home, repo_id)
    kept: list[Candidate] = []
    dropped: list[tuple[SelfEdit, str, str]] = []
    for candidate in candidates:
        leaks = leaked_questions(candidate.edit, questions)
        if leaks:
            why = f"contains held-out repo question(s) {', '.join(leaks)}"
            dropped.append((candidate.edit, "dropped", why))
        else:
            kept.append(candidate)
    return kept, dropped


def _collect(lm, runs, repo, home, config, rest_em, notes, edits_store, say,
             trainer):  # fmt: skip
    """Candidates from the runs, and ReST-EM's losing variants (stored as dropped)."""
    candidates: list[Candidate] = []
    dropped: list[tuple[SelfEdit, str, str]] = []
    index = None
    want_notes = notes or rest_em > 0
    if want_notes:
        try:
            import memory.notes  # noqa: F401
        except ImportError:
            if rest_em > 0:
                raise LearnError("--rest-em samples repo notes, and memory.notes is not "
                                 "installed in this engram") from None  # fmt: skip
            want_notes = False
            say("repo notes skipped: memory.notes is not installed")
    if want_notes:
        from tools.index import SymbolIndex

        index = SymbolIndex.build(repo)
    heldout = [c for e in edits_store.list(runs[0].repo_id, "heldout") for c in training_chats(e)]
    for trajectory in runs:
        demo = demonstration(trajectory)
        if demo is not None:
            candidates.append(Candidate(demo, trajectory.task.id))
        if not want_notes:
            continue
        if rest_em > 0:
            from memory.rest_em import best_variant

            base = training_chats(demo) if demo else []
            best, variants = best_variant(
                rest_em,
                lambda s, t=trajectory: _note_edits(lm, t, repo, home, s, index),
                lambda edits, base=base: _score_variant(lm, base, edits, heldout, config,
                                                        trainer),
                report=say,
            )  # fmt: skip
            for v in variants:
                if v is best:
                    candidates.extend(Candidate(e) for e in v.edits)
                else:
                    why = f"ReST-EM: sample {v.sample} " + (
                        f"scored {v.score:.4f}, best {best.score:.4f}" if best and v.score
                        is not None else f"not used ({v.error or 'no variant scored'})")  # fmt: skip
                    dropped.extend((e, "dropped", why) for e in v.edits)
        else:
            try:
                candidates.extend(Candidate(e) for e in
                                  _note_edits(lm, trajectory, repo, home, 0, index))  # fmt: skip
            except Exception as exc:  # notes are extra material; a demonstration stands alone
                say(f"notes from {trajectory.run_id} failed: {type(exc).__name__}: {exc}")
    return candidates, dropped


def _score_variant(lm, base_chats, edits, heldout, config, trainer) -> float:
    from memory.action_loss import demonstration_loss
    from memory.consolidate import retrain
    from memory.trainer import TrainerConfig

    if not heldout:
        raise LearnError("no held-out demonstrations to score ReST-EM variants on yet")
    chats = base_chats + [c for e in edits for c in training_chats(e)]
    settings = TrainerConfig(loss=config.memory.loss, seed=config.model.seed,
                             **{**(trainer or {}), "max_steps": REST_EM_STEPS})  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="engram-restem-") as tmp:
        cand = retrain(lm, chats, settings, Path(tmp) / "adapter")
        return demonstration_loss(lm, cand.adapter_dir, heldout)


def _consolidate(lm, repo, home, config, store, edits_store, repo_id, base_hash, new_train,
                 method, loss, bootstrap, evaluators, trainer, evaluation,
                 say) -> AdapterVersion:  # fmt: skip
    from memory.consolidate import merge, retrain
    from memory.hyperparams import combine_hyperparams
    from memory.replay import replay_examples
    from memory.trainer import TrainerConfig, TrainingError

    everything = [e for e in edits_store.list(repo_id, "accepted")
                  if bootstrap or e.source != "bootstrap"]  # fmt: skip
    train_edits = everything if method == "retrain" else new_train
    chats = [c for e in train_edits for c in training_chats(e)]
    replay = replay_examples(len(chats), config.memory.replay_share, seed=config.model.seed)
    combined = combine_hyperparams([e.hyperparameters for e in train_edits
                                    if e.hyperparameters is not None],
                                   default_loss=loss or config.memory.loss)  # fmt: skip
    hp = combined.hyperparams
    if loss is not None:  # an explicit --loss wins over proposals
        hp = hp.model_copy(update={"loss": loss})
    for line in combined.changes:
        say(f"hyperparameters: {line}")
    settings = TrainerConfig.from_hyperparams(hp, seed=config.model.seed)
    # Our own overrides (tests, --max-steps) win; the manifest records what really ran.
    settings = TrainerConfig.model_validate({**settings.model_dump(), **(trainer or {})})
    hp = settings.hyperparams()
    n_boot = sum(1 for e in train_edits if e.source == "bootstrap")
    say(f"{method}: {len(train_edits)} self-edit(s) ({len(chats)} chats"
        + (f", {n_boot} bootstrap" if n_boot else "") + f") + {len(replay)} replay, "
        f"loss {hp.loss}, lr {hp.learning_rate:g}, r={hp.lora_rank}")  # fmt: skip
    current = store.current(repo_id)
    current_path = store.version_path(repo_id, current.version) if current else None
    # Training happens in a hidden .partial folder of its own: if we die, the next learn
    # (holding the lock, so nobody else is training) removes it; readers never look there.
    work = home.repo_dir(repo_id) / "training"
    work.mkdir(parents=True, exist_ok=True)
    atomic.remove_stale_partials(work)
    scratch = Path(tempfile.mkdtemp(prefix=".learn-", suffix=".partial", dir=work))
    try:
        out = scratch / "adapter"

        def step(p) -> None:
            say(f"train step {p.step}/{p.total_steps} loss {p.loss:.4f} (ce {p.ce:.4f}) "
                f"{p.step_s:.1f}s")  # fmt: skip

        try:
            if method == "merge":
                cand = merge(lm, chats + replay, settings, out, current_path, step)
            else:
                cand = retrain(lm, chats + replay, settings, out, step)
        except TrainingError:
            raise
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _disk_full(exc) from exc
            raise
        hp = hp.model_copy(update={"lora_rank": cand.lora_rank, "lora_alpha": cand.lora_alpha})
        manifest = AdapterVersion(
            repo_id=repo_id, version=0, base_model_id=lm.model_id, base_model_hash=base_hash,
            self_edit_hashes=sorted(e.id for e in train_edits), hyperparameters=hp,
            method=cand.method,
            notes=f"{len(train_edits)} self-edits ({n_boot} bootstrap demonstrations), "
                  f"{len(replay)} replay chats; new this time: {len(new_train)}",
        )  # fmt: skip
        try:
            proposed = store.propose(repo_id, out, manifest)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise _disk_full(exc) from exc
            raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    version = proposed.version
    cand_path = store.version_path(repo_id, version)
    say(f"candidate v{version} trained in {cand.seconds:.0f} s; evaluating")
    if evaluators is None:
        from memory.evaluation import ModelEvaluators

        heldout = [c for e in edits_store.list(repo_id, "heldout") for c in training_chats(e)]
        evaluators = ModelEvaluators(lm, home=home, config=config, repo=repo, repo_id=repo_id,
                                     base_hash=base_hash, heldout=heldout, report=say,
                                     **evaluation)  # fmt: skip
    t0 = time.perf_counter()
    before_repo = evaluators.repo(current_path, current.version if current else None)
    before_general = evaluators.general(current_path)
    after_repo = evaluators.repo(cand_path, version)
    after_general = evaluators.general(cand_path)
    decision = decide(before_repo, after_repo, before_general, after_general,
                      GateConfig(tolerance=config.memory.general_tolerance))  # fmt: skip
    stats = cand.stats
    metrics = {
        **decision.metrics,
        "train_seconds": cand.seconds,
        "train_steps": float(stats.steps),
        "train_examples": float(stats.examples),
        "replay_examples": float(len(replay)),
        "self_edits": float(len(train_edits)),
        "bootstrap_edits": float(n_boot),
        "seconds_per_self_edit": cand.seconds / max(1, len(train_edits)),
        "first_loss": stats.first_loss,
        "last_loss": stats.last_loss,
        "eval_seconds": time.perf_counter() - t0,
        "promoted": 1.0 if decision.promote else 0.0,
    }
    if stats.peak_rss_mb is not None:
        metrics["peak_rss_mb"] = stats.peak_rss_mb
    if decision.promote:
        return store.accept(repo_id, version, metrics, note=decision.reason)
    return store.reject(repo_id, version, metrics, reason=decision.reason)
