"""Shared fixtures.

Docker and model tests never skip: where the engine or the model is missing they
fail with the command that provides it (`make test` runs `make setup` first). Only
`gpu` tests skip, on machines without CUDA.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from agent.home import engram_home

# Captured before any test points ENGRAM_HOME elsewhere: the real, fetched models.
REAL_MODELS = Path(os.environ.get("ENGRAM_MODELS") or engram_home() / "models")
REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:
        has_cuda = False
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="no CUDA device"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own ENGRAM_HOME; models are shared read-only."""
    home = tmp_path_factory.mktemp("engram-home")
    monkeypatch.setenv("ENGRAM_HOME", str(home))
    monkeypatch.setenv("ENGRAM_MODELS", str(REAL_MODELS))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in [v for v in os.environ if v.startswith("ENGRAM_") and "__" in v]:
        monkeypatch.delenv(var)
    return home


@pytest.fixture(scope="session")
def docker_engine() -> None:
    from sandboxes.engine import EngineError, ensure_engine

    try:
        ensure_engine(engram_home() / "logs", report=lambda m: None)
    except EngineError as exc:
        pytest.fail(f"Docker tests need an engine: {exc}\nRun `make setup`.")


@pytest.fixture(scope="session")
def sandbox_image(docker_engine) -> str:
    from sandboxes.image import image_current
    from sandboxes.settings import SandboxSettings

    tag = SandboxSettings().image
    if not image_current(tag):
        pytest.fail(f"sandbox image {tag} is missing or outdated. Run `make setup`.")
    return tag


@pytest.fixture(scope="session")
def embedded_model_dir() -> Path:
    from agent.models.fetch import ModelPaths, converted
    from agent.models.registry import QWEN_05B

    paths = ModelPaths(REAL_MODELS, QWEN_05B)
    if not converted(paths):
        pytest.fail(f"the embedded model is not fetched under {REAL_MODELS}. Run `make setup`.")
    return paths.hf


def make_git_repo(path: Path, files: dict[str, str]) -> Path:
    """A committed git repository with the given files (fixed identity and dates)."""
    path.mkdir(parents=True, exist_ok=True)
    for rel, text in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
    }  # fmt: skip
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"],
                ["git", "commit", "-q", "-m", "init"]):  # fmt: skip
        subprocess.run(cmd, cwd=path, env=env, check=True, capture_output=True)
    return path


@pytest.fixture
def git_repo(tmp_path) -> Path:
    return make_git_repo(
        tmp_path / "repo",
        {"pkg/__init__.py": "", "pkg/core.py": "def add(a, b):\n    return a + b\n",
         "tests/test_core.py": "from pkg.core import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"},
    )  # fmt: skip
