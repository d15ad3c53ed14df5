"""A repository, a home with real verified runs re-targeted at it, a tiny model, fake evaluators."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.config import EngramConfig
from agent.home import Home
from memory.gate import GeneralScores, RepoScores
from tests.conftest import make_git_repo
from tests.memory.conftest import BASE_HASH, build_tiny_model, build_tiny_tokenizer
from tests.memory.runs import for_repo, stored_runs, write_runs

# Long enough for the stored runs' prompts in bytes (the tiny tokenizer is byte-level).
TRAINER = {"max_seq_len": 4096, "max_steps": 2, "epochs": 1}


@dataclass
class Setup:
    repo: Path
    repo_id: str
    home: Home
    config: EngramConfig


def make_setup(tmp_path: Path, runs: int = 2, name: str = "repo") -> Setup:
    from sandboxes.repo import repo_identity

    repo = make_git_repo(tmp_path / name, {"pkg/__init__.py": f"# {name}\n",
                                           "pkg/core.py": "def add(a, b):\n    return a + b\n"})  # fmt: skip
    repo_id = repo_identity(repo).id
    home = Home(tmp_path / "home")
    stored = stored_runs()
    write_runs(home.runs, [for_repo(stored[i], repo_id) for i in range(runs)])
    return Setup(repo, repo_id, home, EngramConfig())


def tiny_lm(seed: int = 0):
    from memory.peft_lm import PeftLM

    lm = PeftLM(build_tiny_model(seed), build_tiny_tokenizer(), "tiny/base")
    lm.model_sha256 = BASE_HASH
    return lm


@dataclass
class FakeEvaluators:
    """Repo scores: base 1.0, any adapter `adapter_loss`; general: base vs adapter."""

    adapter_loss: float = 0.5
    adapter_general: GeneralScores = field(
        default_factory=lambda: GeneralScores(humaneval_pass_at_1=0.5, heldout_loss=1.0)
    )
    calls: list[tuple[str, Path | None]] = field(default_factory=list)

    def repo(self, adapter: Path | None, version: int | None) -> RepoScores:
        self.calls.append(("repo", adapter))
        return RepoScores(action_loss=1.0 if adapter is None else self.adapter_loss)

    def general(self, adapter: Path | None) -> GeneralScores:
        self.calls.append(("general", adapter))
        if adapter is None:
            return GeneralScores(humaneval_pass_at_1=0.5, heldout_loss=1.0)
        return self.adapter_general
