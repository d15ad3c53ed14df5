"""Shared pieces for the notes / QA / repo-evaluation tests: the bundled ledger example."""

from __future__ import annotations

from pathlib import Path

LEDGER = Path(__file__).resolve().parents[2] / "examples" / "ledger"


def ledger_index():
    from tools.index import SymbolIndex

    return SymbolIndex.build(LEDGER)
