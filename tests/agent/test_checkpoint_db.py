"""The run's checkpoint database when several runs start at once (bench workers)."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from agent.run import _enable_wal


def test_wal_switch_waits_for_a_competing_lock_instead_of_failing(tmp_path):
    path = tmp_path / "checkpoints.sqlite"
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    # No busy handler at all: without the retry this is "database is locked" at once.
    late = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        late.execute("PRAGMA journal_mode=WAL")
    threading.Timer(0.3, holder.commit).start()
    _enable_wal(late)
    assert late.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_other_errors_are_not_retried(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.sqlite")
    conn.close()
    with pytest.raises(sqlite3.ProgrammingError):
        _enable_wal(conn)
