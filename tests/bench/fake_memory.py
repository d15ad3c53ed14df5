"""A MemoryOps fake for the track tests: it learns nothing, but records what it was given
(which home, which verified runs) and answers with versions, notes and scores that
depend on how much it was given, so the tests can see data flow through the tracks."""

from __future__ import annotations

from pathlib import Path

from agent.types import AdapterStatus, AdapterVersion
from bench.memory_ops import GeneralScore, KnowledgeScore
from memory.trajectories import TrajectoryStore


class FakeMemory:
    def __init__(self, reject=lambda home, version: False):
        self.reject = reject  # (home root, version) -> whether the gate refuses that version
        self.learned: list[dict] = []  # one entry per learn call
        self.versions_by_home: dict[str, int] = {}
        self.promoted_by_home: dict[str, int] = {}
        self.demos: list[tuple[str, str]] = []  # (home, instance id)
        self.loads: list[tuple[str, int]] = []
        self.newest_loads = 0  # loads that asked for the newest version (candidate arm)
        self.general: list[tuple[str, int | None]] = []
        self.repo: list[tuple[str, int | None]] = []

    def learn(self, repo: Path, home, config, bootstrap: bool = False) -> AdapterVersion | None:
        eligible = sorted(t.task.id for t in TrajectoryStore(home.runs) if t.eligible_for_learning)
        all_runs = sorted(t.task.id for t in TrajectoryStore(home.runs))
        version = self.versions_by_home.get(str(home.root), 0) + 1
        self.versions_by_home[str(home.root)] = version
        self.learned.append({"repo": repo, "home": home.root, "eligible": eligible,
                             "bootstrap": bootstrap,
                             "runs": all_runs, "demos": [i for h, i in self.demos
                                                         if h == str(home.root)]})  # fmt: skip
        refused = self.reject(home.root, version)
        if not refused:
            self.promoted_by_home[str(home.root)] = version
        return AdapterVersion(repo_id="stats", version=version, base_model_id="fake",
                              base_model_hash="h",
                              status=AdapterStatus.REJECTED if refused else AdapterStatus.ACCEPTED)  # fmt: skip

    def load_adapter(self, backend, home, repo_id, newest: bool = False):
        self.newest_loads += int(newest)
        by_home = self.versions_by_home if newest else self.promoted_by_home
        version = by_home.get(str(home.root))
        if not version:
            return None
        name = f"{repo_id}-v{version}"
        backend.load_adapter(name, Path("/nonexistent") / name)
        self.loads.append((str(home.root), version))
        return name, version

    def notes(self, home, repo_id):
        version = self.versions_by_home.get(str(home.root))
        return f"The mean lives in src/stats/core.py (round {version})." if version else None

    def bootstrap(self, task, checkout, home, config) -> bool:
        assert (checkout / ".git").exists() and task.split == "train"
        self.demos.append((str(home.root), task.instance_id))
        return True

    def versions(self, home, repo_id):
        return []

    def general_eval(self, home, config, repo_id, version, n):
        self.general.append((str(home.root), version))
        passed = n - (version or 0)  # each version "forgets" one more problem
        return GeneralScore(humaneval_passed=passed, humaneval_n=n,
                            heldout_loss=1.0 + 0.01 * (version or 0), seconds=0.1)  # fmt: skip

    def repo_eval(self, home, config, repo, repo_id, version):
        self.repo.append((str(home.root), version))
        return KnowledgeScore(correct=2 + 3 * (version or 0), questions=10, mean_score=None)
