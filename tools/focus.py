"""What is in play for the repo map: files and identifiers, with weights.

`focus_from` derives it from what the agent has — the task statement, tracebacks and
test output, the files it opened and edited — keeping only names the repository has.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex


@dataclass(frozen=True)
class Focus:
    """What is in play. Weights are relative; files are repository-relative paths.

    `exclude`: files the model already sees in full (their outline would repeat them).
    """

    files: Mapping[str, float] = field(default_factory=dict)
    identifiers: Mapping[str, float] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        files: Iterable[str] | Mapping[str, float] = (),
        identifiers: Iterable[str] | Mapping[str, float] = (),
        exclude: Iterable[str] = (),
    ) -> Focus:
        def weights(items: Iterable[str] | Mapping[str, float]) -> dict[str, float]:
            if isinstance(items, Mapping):
                return {k: float(v) for k, v in items.items() if v > 0}
            return dict.fromkeys(items, 1.0)

        return cls(weights(files), weights(identifiers), frozenset(exclude))

    @property
    def empty(self) -> bool:
        return not self.files and not self.identifiers


_FRAME = re.compile(r'File "([^"]+)", line \d+, in (\w+)')


def focus_from(
    index: SymbolIndex,
    texts: Iterable[str] = (),
    opened: Iterable[str] = (),
    edited: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> Focus:
    """What is in play, from what the agent has: texts (the task statement, tracebacks,
    test output) and the files it opened or edited. Only names the repository has count
    (grounding decides); edited files weigh most, then traceback frames and opened
    files, then mentions."""
    from tools.grounding import Grounder

    grounder = Grounder(index)
    files: dict[str, float] = defaultdict(float)
    names: dict[str, float] = defaultdict(float)
    for text in texts:
        for path, function in _FRAME.findall(text):
            for hit in index.find_paths(path)[:1]:
                files[hit] += 1.5
                names[function] += 1.0
        for check in grounder.check(text).checks:
            if not check.exists or not check.resolved_to:
                continue
            where = check.resolved_to.split(" ", 1)[0].rsplit(":", 1)[0]
            if where in index.entries:
                files[where] += 1.0
            if check.kind != "path":
                names[check.name.replace(" in ", ".").split(".")[-1]] += 1.0
    for path in opened:
        for hit in index.find_paths(path)[:1]:
            files[hit] += 2.0
    for path in edited:
        for hit in index.find_paths(path)[:1]:
            files[hit] += 3.0
    return Focus.of(files=dict(files), identifiers=dict(names), exclude=exclude)
