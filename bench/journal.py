"""The generation journal: one JSON line per validated candidate, appended as it finishes.

A killed generation loses at most the candidates that were running; on restart the
journal is read back and nothing in it is validated again. A validation result is a
fact about (clean tree, mutations, validator settings), not about the generation's
parameters, so one journal serves every later run with another seed, size or kind
list. A half-written last line (the kill came mid-write) is ignored.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from bench.validation import Baseline, CandidateResult


class Journal:
    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def load(self) -> tuple[Baseline | None, dict[str, CandidateResult]]:
        baseline: Baseline | None = None
        results: dict[str, CandidateResult] = {}
        if not self.path.is_file():
            return baseline, results
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                if record.get("type") == "baseline":
                    baseline = Baseline.model_validate(record["baseline"])
                elif record.get("type") == "candidate":
                    result = CandidateResult.model_validate(record["result"])
                    if result.status != "error":  # a failed sandbox says nothing: retry
                        results[result.key] = result
            except (ValueError, KeyError, TypeError):
                continue  # a torn line from a killed run
        return baseline, results

    def _append(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as handle:
                # A previous run killed mid-line left no newline: start a fresh line.
                if handle.tell() > 0 and not self._ends_with_newline():
                    handle.write("\n")
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def add_baseline(self, baseline: Baseline) -> None:
        self._append({"type": "baseline", "baseline": baseline.model_dump(mode="json")})

    def add(self, result: CandidateResult) -> None:
        self._append({"type": "candidate", "result": result.model_dump(mode="json")})
