"""The numbers the gate reads, behind a small protocol so `learn` can be tested with fakes.

`Evaluators.repo(adapter, version)` and `.general(adapter)` score the base model
(adapter None) or base + the adapter folder. `ModelEvaluators` is the real one:

- repo: closed-book repo questions (`memory.repo_eval.evaluate_repo`; off with
  `qa=False`) and the held-out next-action loss on verified demonstrations never
  trained on (`memory.action_loss`);
- general: `memory.general_eval.evaluate_general` (HumanEval subset in the Docker
  sandbox, held-out code loss).

General numbers depend only on the weights and the evaluation settings, so they are
cached per (adapter weights digest or base-model hash, settings) in
`ENGRAM_HOME/repos/<repo-id>/eval_cache.json`: the incumbent is measured once, not at
every consolidation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from agent import atomic
from agent.types import ChatMessage
from memory.gate import GeneralScores, RepoScores


class Evaluators(Protocol):
    def repo(self, adapter: Path | None, version: int | None) -> RepoScores: ...

    def general(self, adapter: Path | None) -> GeneralScores: ...


def adapter_digest(adapter: Path) -> str:
    digest = hashlib.sha256()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        digest.update((adapter / name).read_bytes())
    return digest.hexdigest()


class ModelEvaluators:
    def __init__(
        self,
        lm: Any,  # PeftLM
        *,
        home: Any,
        config: Any,  # EngramConfig
        repo: Path,
        repo_id: str,
        base_hash: str,
        heldout: list[list[ChatMessage]],
        humaneval_n: int = 8,
        heldout_windows: int = 2,
        qa: bool = True,
        report: Callable[[str], None] | None = None,
    ):
        self.lm = lm
        self.home = home
        self.config = config
        self.repo_path = repo
        self.repo_id = repo_id
        self.base_hash = base_hash
        self.heldout = heldout
        self.humaneval_n = humaneval_n
        self.heldout_windows = heldout_windows
        self.qa = qa
        self.say = report or (lambda _m: None)

    # -- repo ------------------------------------------------------------------

    def repo(self, adapter: Path | None, version: int | None) -> RepoScores:
        scores: dict[str, Any] = {}
        if self.heldout:
            self.say(f"repo: held-out action loss on {len(self.heldout)} demonstration chat(s)")
            scores["action_loss"] = self._action_loss(adapter)
            scores["action_examples"] = len(self.heldout)
        if self.qa:
            from memory.repo_eval import evaluate_repo

            self.say("repo: closed-book questions")
            result = evaluate_repo(self.repo_path, self.home, self.config,
                                   repo_id=self.repo_id, version=version, lm=self.lm)  # fmt: skip
            if result.questions:
                scores["qa_accuracy"] = result.correct / result.questions
                scores["qa_questions"] = result.questions
        return RepoScores(**scores)

    def _action_loss(self, adapter: Path | None) -> float:
        from memory.action_loss import demonstration_loss

        return float(demonstration_loss(self.lm, adapter, self.heldout))

    # -- general ---------------------------------------------------------------

    def _cache_path(self) -> Path:
        return self.home.repo_dir(self.repo_id) / "eval_cache.json"

    def general(self, adapter: Path | None) -> GeneralScores:
        from memory.general_eval import GeneralEvalConfig, evaluate_general

        settings = GeneralEvalConfig(humaneval_n=self.humaneval_n,
                                     heldout_max_windows=self.heldout_windows)  # fmt: skip
        weights = adapter_digest(adapter) if adapter is not None else "base"
        key = hashlib.sha256(
            f"{self.base_hash}|{weights}|{settings.model_dump_json()}".encode()
        ).hexdigest()
        cache = self._read_cache()
        if key in cache:
            return GeneralScores.model_validate(cache[key])
        self.say(f"general: HumanEval n={self.humaneval_n}, held-out code loss "
                 f"({'adapter' if adapter else 'base model'})")  # fmt: skip
        if self.humaneval_n:
            from memory.humaneval import scratch_sandbox

            with scratch_sandbox(self.config.sandbox) as sandbox:
                result = evaluate_general(self.lm, sandbox, adapter, settings, report=self.say)
        else:
            result = evaluate_general(self.lm, None, adapter, settings, report=self.say)
        scores = GeneralScores(
            humaneval_pass_at_1=result.humaneval.pass_at_1 if result.humaneval else None,
            humaneval_n=result.humaneval.total if result.humaneval else None,
            heldout_loss=result.heldout.mean_loss if result.heldout else None,
        )
        cache[key] = scores.model_dump()
        path = self._cache_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, json.dumps(cache, indent=2) + "\n")
        return scores

    def _read_cache(self) -> dict[str, Any]:
        try:
            return json.loads(self._cache_path().read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
