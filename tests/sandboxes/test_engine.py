"""The Docker engine check: answers where it runs; says what to do where it does not."""

import subprocess
import sys

import pytest

from sandboxes import engine
from sandboxes.engine import EngineError, EngineStatus, engine_status, ensure_engine


@pytest.mark.docker
def test_running_engine_answers(docker_engine):
    status = engine_status()
    assert status.ok and status.version


def test_no_engine_and_not_root_says_what_to_do_and_starts_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(
        engine, "engine_status", lambda timeout=5.0: EngineStatus(False, error="refused")
    )
    monkeypatch.setattr(engine, "_is_root", lambda: False)
    started = []
    monkeypatch.setattr(engine, "_start_dockerd", lambda *a: started.append(a))
    monkeypatch.setattr(engine, "_install_docker", lambda *a: started.append(a))
    with pytest.raises(EngineError) as err:
        ensure_engine(tmp_path, report=lambda m: None)
    text = str(err.value)
    assert "sudo systemctl start docker" in text and "apt-get install docker.io" in text
    assert "--sandbox local" in text and started == []


def test_doctor_reports_a_missing_engine_with_the_fix(monkeypatch):
    from agent.doctor import check_docker

    monkeypatch.setattr(
        "sandboxes.engine.engine_status", lambda timeout=5.0: EngineStatus(False, error="refused")
    )
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    check = check_docker()
    assert not check.ok and "systemctl start docker" in check.fix


def test_engram_setup_without_engine_as_non_root_fails_cleanly(tmp_path):
    """The real CLI in a subprocess, with DOCKER_HOST pointing at nothing and root dropped."""
    code = (
        "import os, sys\n"
        "os.environ['DOCKER_HOST'] = 'unix:///nonexistent/docker.sock'\n"
        "import sandboxes.engine as e\n"
        "e._is_root = lambda: False\n"
        "from agent.cli.main import main\n"
        "sys.argv = ['engram', 'setup', '--no-model']\n"
        "main()\n"
    )
    env = {"ENGRAM_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd="."
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert "sudo systemctl start docker" in proc.stderr
