import os
import subprocess

import pytest

from agent.home import Home, HomeError


def test_ensure_creates_layout(tmp_path):
    home = Home(tmp_path / "h")
    home.ensure(home.runs, home.adapters)
    assert home.runs.is_dir() and home.adapters.is_dir()


def test_home_under_a_file_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(HomeError, match="Set ENGRAM_HOME to a writable directory"):
        Home(blocker / "home").ensure()


def test_read_only_home_is_a_clear_error(tmp_path):
    target = tmp_path / "ro"
    target.mkdir()
    if os.geteuid() == 0:
        # Root ignores permission bits: use a real read-only mount instead.
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)], check=True
        )
    else:
        target.chmod(0o555)
    try:
        with pytest.raises(HomeError, match="not writable"):
            Home(target).ensure()
        assert list(target.iterdir()) == []
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(target)], check=True)
        else:
            target.chmod(0o755)
