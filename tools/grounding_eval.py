"""Scoring grounding against a labelled set (used by scripts/bench_grounding.py and by
the regression test that keeps its precision and recall above a floor).

A labelled record is one JSON line: `text`, `hallucinated` (does it name anything the
repository lacks?) and `missing` (the names it lacks, as grounding reports them:
`Money.from_cents`, `src/ledger/parsing.py`, `parse_period in ledger.parser`).

Two views, both about *flagging non-existent names*:

- per sentence: a sentence is flagged when grounding reports any name missing;
- per name: a reported-missing name is a true positive when it matches a labelled
  missing name (equal, or one is a dotted/path prefix of the other: reporting
  `ledger.utils.format_money` for the labelled `ledger.utils` counts).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tools.grounding import Grounder


@dataclass(frozen=True)
class Labelled:
    id: str
    text: str
    hallucinated: bool
    missing: tuple[str, ...]
    category: str = ""


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class NameCounts:
    """Precision over the names reported missing; recall over the labelled ones."""

    reported_right: int = 0
    reported_wrong: int = 0
    labels_found: int = 0
    labels_missed: int = 0

    @property
    def precision(self) -> float:
        total = self.reported_right + self.reported_wrong
        return self.reported_right / total if total else 1.0

    @property
    def recall(self) -> float:
        total = self.labels_found + self.labels_missed
        return self.labels_found / total if total else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    sentences: Counts = field(default_factory=Counts)
    names: NameCounts = field(default_factory=NameCounts)
    errors: list[str] = field(default_factory=list)  # one line per mistake, for reading
    seconds: float = 0.0


def load_labelled(path: Path) -> list[Labelled]:
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw = json.loads(line)
            missing = tuple(raw.get("missing", []))
            hallucinated = bool(raw["hallucinated"])
            category = raw.get("category", "")
            records.append(Labelled(raw["id"], raw["text"], hallucinated, missing, category))
    return records


def same_name(reported: str, labelled: str) -> bool:
    if reported == labelled:
        return True
    for a, b in ((reported, labelled), (labelled, reported)):
        if a.startswith(b + ".") or a.startswith(b + "/") or a.endswith("." + b):
            return True
    return False


def evaluate(records: list[Labelled], grounder: Grounder) -> Evaluation:
    import time

    result = Evaluation()
    started = time.perf_counter()
    for record in records:
        checks = grounder.check(record.text).missing
        flagged = bool(checks)
        s = result.sentences
        if flagged and record.hallucinated:
            s.tp += 1
        elif flagged:
            s.fp += 1
        elif record.hallucinated:
            s.fn += 1
        else:
            s.tn += 1
        reported = [c.name for c in checks]
        for name in reported:
            if any(same_name(name, label) for label in record.missing):
                result.names.reported_right += 1
            else:
                result.names.reported_wrong += 1
                result.errors.append(f"{record.id} false alarm: {name}")
        for label in record.missing:
            if any(same_name(name, label) for name in reported):
                result.names.labels_found += 1
            else:
                result.names.labels_missed += 1
                result.errors.append(f"{record.id} missed: {label}")
    result.seconds = time.perf_counter() - started
    return result
