"""What a track is: it runs (writing results under the run directory), and it sums up
its stored results for the report — from the files alone, so `engram bench report`
renders any run, finished or not, without the model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bench.results import ResultStore, RunManifest, TaskResult, load_manifest

if TYPE_CHECKING:
    from bench.session import Session


@dataclass
class RunView:
    """Read-only access to a run directory's results."""

    run_dir: Path
    manifest: RunManifest

    @classmethod
    def open(cls, run_dir: Path) -> RunView:
        return cls(run_dir, load_manifest(run_dir))

    def cell(self, *parts: str) -> dict[str, TaskResult]:
        return ResultStore(self.run_dir.joinpath(*parts), "/".join(parts) or "resolve").all()

    def path(self, *parts: str) -> Path:
        return self.run_dir.joinpath(*parts)


class Track(Protocol):
    name: str

    def run(self, session: Session) -> None: ...

    def summarise(self, view: RunView) -> dict[str, Any]:
        """JSON-able figures of the track (its part of report.json)."""
        ...

    def markdown(self, summary: dict[str, Any], plots: dict[str, str]) -> list[str]:
        """The track's section of report.md (plots: name → file name in the report dir)."""
        ...

    def plots(self, summary: dict[str, Any], out: Path) -> dict[str, str]:
        """Write the track's PNGs into `out`; return name → file name."""
        ...
