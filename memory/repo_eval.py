"""The repo evaluation: closed-book questions about a repository, and next-action loss.

`evaluate_repo` asks the questions of `memory.repo_questions` with no repository in
context (optionally the repo notes), greedy, a short answer, and scores them with
`memory.answer_scoring`, for the base model (`version=None`) or base + an adapter
version from `FileAdapterStore` (`for_loading` checks it belongs to this repo and this
base model). The framing is the self-edits' own (`memory.qa.knowledge_system_prompt`).

Held out: the questions must never be in the training data. `leaked_questions` finds
self-edits containing a question's text (normalised); `exclude_held_out` drops them,
and `held_out_questions` is the repo's fixed question set (seed 0) that consolidation
filters against.

`next_action_loss`: mean cross-entropy (nats/token) on the assistant tokens of held-out
verified demonstrations, with or without an adapter.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from agent.backends.base import GenerationOptions
from agent.types import ChatMessage, Model, SelfEdit
from memory.answer_scoring import score_answer
from memory.note_check import normalise
from memory.qa import knowledge_system_prompt
from memory.repo_questions import ANSWER_HINTS, RepoQuestion, repo_questions

if TYPE_CHECKING:  # pragma: no cover
    from agent.config import EngramConfig
    from agent.home import Home
    from memory.peft_lm import PeftLM

ANSWER_TOKENS = 48
DEFAULT_QUESTIONS = 40
EVAL_ADAPTER = "engram-repo-eval"


class RepoEvalResult(Model):
    correct: int
    questions: int
    mean_score: float | None = None
    seconds: float = 0.0
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return self.correct / self.questions if self.questions else 0.0


# --------------------------------------------------------------------------- held out


def leaked_questions(edit: SelfEdit, questions: list[RepoQuestion]) -> list[str]:
    """Ids of the questions whose text (normalised) occurs in the self-edit."""
    text = normalise("\n".join(m.content for m in edit.messages))
    return [q.id for q in questions if normalise(q.question) in text]


def exclude_held_out(
    edits: list[SelfEdit], questions: list[RepoQuestion]
) -> tuple[list[SelfEdit], list[tuple[SelfEdit, list[str]]]]:
    """The self-edits that contain no question's text, and the others with the ids."""
    kept, dropped = [], []
    for edit in edits:
        leaks = leaked_questions(edit, questions)
        (dropped.append((edit, leaks)) if leaks else kept.append(edit))
    return kept, dropped


def held_out_questions(repo: Path, home: Home | None = None, repo_id: str | None = None,
                       n: int = DEFAULT_QUESTIONS) -> list[RepoQuestion]:  # fmt: skip
    """The repository's evaluation questions (seed 0): what training must never contain."""
    from tools.index import SymbolIndex

    index = SymbolIndex.for_repo(repo, repo_id, home.root if home is not None else None)
    return repo_questions(repo, index, n=n, seed=0)


# --------------------------------------------------------------------------- asking


def question_messages(q: RepoQuestion, repo_id: str, notes: str | None) -> list[ChatMessage]:
    system = knowledge_system_prompt(repo_id)
    if notes:
        system += "\n\n" + notes
    user = f"{q.question} {ANSWER_HINTS.get(q.kind, '')}".strip()
    return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]


def ask_questions(lm: Any, questions: list[RepoQuestion], repo_id: str, *,
                  notes: str | None = None, adapter: str | None = None) -> RepoEvalResult:  # fmt: skip
    """Ask every question of any LLMBackend; greedy, first paragraph of the reply."""
    started = time.perf_counter()
    rows = []
    options = GenerationOptions(temperature=0.0, max_new_tokens=ANSWER_TOKENS, seed=0,
                                stop=["\n\n"])  # fmt: skip
    for q in questions:
        reply = lm.generate(question_messages(q, repo_id, notes), adapter=adapter,
                            options=options).text.strip()  # fmt: skip
        rows.append({"id": q.id, "kind": q.kind, "answer": reply, "score": score_answer(q, reply)})
    by_kind: dict[str, list[float]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row["score"])
    scores = [row["score"] for row in rows]
    return RepoEvalResult(
        correct=sum(1 for s in scores if s >= 1.0),
        questions=len(rows),
        mean_score=sum(scores) / len(scores) if scores else None,
        seconds=time.perf_counter() - started,
        details={
            "by_kind": {k: {"correct": sum(1 for s in v if s >= 1.0), "questions": len(v)}
                        for k, v in sorted(by_kind.items())},
            "answers": rows,
            "notes_chars": len(notes or ""),
        },
    )  # fmt: skip


def base_model_hash(config: EngramConfig, home: Home) -> str:
    """The hash adapters record for the configured base model (memory.base_model)."""
    from agent.models.loader import resolve_model
    from memory.base_model import identify

    resolved = resolve_model(config.model.name, home.models)
    if resolved.path is None:
        raise ValueError(f"model {config.model.name!r} has no local folder to identify")
    return identify(resolved.path).hash


def evaluate_repo(
    repo: Path,
    home: Home,
    config: EngramConfig,
    *,
    repo_id: str,
    version: int | None,
    notes: str | None = None,
    lm: PeftLM | None = None,
    questions: list[RepoQuestion] | None = None,
) -> RepoEvalResult:
    """Closed-book accuracy of the base model (`version=None`) or base + that version."""
    from memory.adapter_store import FileAdapterStore

    if questions is None:
        questions = held_out_questions(repo, home, repo_id)
    owned = lm is None
    if lm is None:
        from memory.peft_lm import PeftLM

        if config.model.threads > 0:
            import torch

            torch.set_num_threads(config.model.threads)
        lm = PeftLM.load(config.model.name, dtype=config.model.dtype, device=config.model.device)
    adapter = None
    try:
        if version is not None:
            handle = FileAdapterStore(home.adapters).for_loading(
                repo_id, base_model_hash(config, home), version
            )
            if handle is None:
                raise ValueError(f"{repo_id} has no adapter version {version}")
            adapter = f"{EVAL_ADAPTER}-v{version}"
            lm.load_adapter(adapter, handle.path)
        result = ask_questions(lm, questions, repo_id, notes=notes, adapter=adapter)
    finally:
        if adapter is not None:
            lm.unload_adapter(adapter)
        if owned:
            lm.close()
    result.details["version"] = version
    return result


# --------------------------------------------------------------------------- next action


def next_action_loss(lm: PeftLM, adapter: Path | None, examples: list[list[ChatMessage]],
                     max_seq_len: int = 2048) -> float:  # fmt: skip
    """Token-weighted mean CE (nats/token) on the assistant tokens of `examples`, with the
    adapter at `adapter` (loaded under a private name, unloaded after) or the base. One
    implementation serves the gate, ReST-EM and this evaluation: `memory.action_loss`."""
    from memory.action_loss import demonstration_loss

    return demonstration_loss(lm, adapter, examples, max_seq_len)
