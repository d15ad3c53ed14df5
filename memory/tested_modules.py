"""Which source module a test file tests, read off the index (never off model output).

A test file tests module M when it imports M (or names from M) and M's file name
matches the test file's (`tests/test_money.py` → `…/money.py`); without a name match,
when M is the one repository module it imports most names from. Anything ambiguous
gives no answer: the repo evaluation asks only questions whose answer is certain.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex


def is_test_file(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    parts = path.split("/")
    return (
        name.startswith("test_")
        or name.endswith("_test.py")
        or name == "conftest.py"
        or any(p in ("tests", "test", "testing") for p in parts[:-1])
    )


def _file_of_module(index: SymbolIndex, module: str) -> str | None:
    files = [f for f in index.files_of_module(module) if not is_test_file(f)]
    return files[0] if len(files) == 1 else None


def tested_module(index: SymbolIndex, test_path: str) -> str | None:
    """The source file `test_path` tests, or None when the index does not say for sure."""
    symbols = index.symbols(test_path)
    if symbols is None:
        return None
    counts: Counter[str] = Counter()
    for ref in symbols.imports:
        target = index.absolute_import(test_path, ref)
        file = _file_of_module(index, target)
        if file is None and ref.name is not None:
            file = _file_of_module(index, f"{target}.{ref.name}")  # `from pkg import money`
        if file is not None and not file.endswith("__init__.py"):
            counts[file] += 1
    if not counts:
        return None
    stem = test_path.rsplit("/", 1)[-1].removesuffix(".py")
    stem = stem.removeprefix("test_").removesuffix("_test")
    named = [f for f in counts if f.rsplit("/", 1)[-1].removesuffix(".py") == stem]
    if len(named) == 1:
        return named[0]
    ranked = counts.most_common(2)
    if len(ranked) == 1 or ranked[0][1] > ranked[1][1]:
        return ranked[0][0]
    return None


def test_files_by_module(index: SymbolIndex) -> dict[str, list[str]]:
    """Source file → the test files that test it (sorted)."""
    out: dict[str, list[str]] = {}
    for path in sorted(index.entries):
        if not is_test_file(path) or not path.rsplit("/", 1)[-1].startswith("test"):
            continue
        module = tested_module(index, path)
        if module is not None:
            out.setdefault(module, []).append(path)
    return out
