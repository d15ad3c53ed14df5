"""Which models the forget and knowledge tracks evaluate: the base model, then adapters.

With the learn track in the same run: every adapter version its rounds produced, per
source (rejected candidates too — a gate's rejection is worth seeing). Alone: the
current adapter of the task set's repository in ENGRAM_HOME, if it has one. Each
evaluation is stored as `<track>/<key>.json` when it finishes, so a resumed run skips it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.home import Home
from bench.arms import sub_home
from bench.memory_ops import MemoryOps

if TYPE_CHECKING:
    from bench.session import Session


@dataclass(frozen=True)
class Subject:
    key: str  # file name stem: base, agent-v0003, home-v0002
    label: str  # for people: "base", "agent v3 (accepted)"
    source: str  # base | agent | bootstrap | home
    home: Home
    version: int | None


def task_repo(session: Session) -> tuple[str, Path]:
    """(repo id, clean checkout) of the run's tasks (one repository)."""
    from bench.repos import BenchRepos, task_checkout
    from bench.tracks.learn import _one_repo
    from sandboxes.repo import repo_identity

    spec = _one_repo(session.tasks)
    repo_id = repo_identity(task_checkout(session.tasks[0], session.home)).id
    return repo_id, BenchRepos(session.home).open(spec).path


def subjects(session: Session, ops: MemoryOps, repo_id: str) -> list[Subject]:
    out = [Subject("base", "base model", "base", session.home, None)]
    if "learn" in session.manifest.tracks:
        for source in session.manifest.options.get("learn_sources") or ["agent"]:
            root = session.run_dir / "learn" / source
            seen: set[int] = set()
            for path in sorted((root / "rounds").glob("r*.json")):
                adapter = json.loads(path.read_text()).get("adapter")
                if not adapter or adapter["version"] in seen:
                    continue
                seen.add(adapter["version"])
                out.append(Subject(
                    f"{source}-v{adapter['version']:04d}",
                    f"{source} v{adapter['version']} ({adapter.get('status', '?')})",
                    source, sub_home(session.home, root / "home"), adapter["version"],
                ))  # fmt: skip
        return out
    current = [v for v in ops.versions(session.home, repo_id) if v.status == "current"]
    for version in current:
        out.append(Subject(f"home-v{version.version:04d}", f"current v{version.version}", "home",
                           session.home, version.version))  # fmt: skip
    return out
