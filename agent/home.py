"""Where engram keeps its data: `ENGRAM_HOME` (default `~/.engram`).

```
ENGRAM_HOME/
  config.toml            user config (optional)
  models/<name>/         gguf/ (verified source file), hf/ (converted bf16 folder)
  images/                base image build cache and logs
  runs/<run-id>/         trajectory.json, steps.jsonl, patch.diff
  runs/checkpoints.sqlite  LangGraph checkpoints (with workspace snapshot refs)
  worktrees/<run-id>/    the run's git worktree (bind-mounted into the sandbox)
  repos/<repo-id>/       per-repo caches: repo map, notes, self-edits
  adapters/<repo-id>/    adapter versions vNNNN/ and the `current` pointer
  probes/<base-model>/   probe weights (safetensors) + calibration (JSON)
  bench/<bench-run>/     benchmark results and reports
  logs/                  dockerd and server logs
```

Nothing inside a sandbox can reach this directory: only the run's worktree is mounted.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


class HomeError(RuntimeError):
    """ENGRAM_HOME cannot be used; the message says what to do."""

    user_facing = True


def engram_home(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    raw = env.get("ENGRAM_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".engram"


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls) -> Home:
        return cls(engram_home())

    @property
    def models(self) -> Path:
        # Models are large and shared: ENGRAM_MODELS may point elsewhere (e.g. tests with a
        # throwaway home reuse the fetched model).
        raw = os.environ.get("ENGRAM_MODELS")
        return Path(raw).expanduser() if raw else self.root / "models"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def checkpoints(self) -> Path:
        return self.runs / "checkpoints.sqlite"

    @property
    def worktrees(self) -> Path:
        return self.root / "worktrees"

    @property
    def repos(self) -> Path:
        return self.root / "repos"

    @property
    def adapters(self) -> Path:
        return self.root / "adapters"

    @property
    def probes(self) -> Path:
        return self.root / "probes"

    @property
    def bench(self) -> Path:
        return self.root / "bench"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs / run_id

    def repo_dir(self, repo_id: str) -> Path:
        return self.repos / repo_id

    def ensure(self, *subdirs: Path) -> Path:
        """Create the home (and the given subdirectories) and prove it is writable."""
        targets = [self.root, *subdirs]
        for target in targets:
            try:
                target.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HomeError(
                    f"cannot create {target}: {exc.strerror}. Set ENGRAM_HOME to a writable "
                    "directory (e.g. `export ENGRAM_HOME=$HOME/.engram`) or fix its permissions."
                ) from exc
        try:
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
                pass
        except OSError as exc:
            raise HomeError(
                f"ENGRAM_HOME ({self.root}) is not writable: {exc.strerror}. Set ENGRAM_HOME to a "
                "writable directory or fix its permissions."
            ) from exc
        return self.root
