import warnings

import pytest

from sandboxes.workspace import Workspace


@pytest.fixture
def workspace(git_repo, tmp_path) -> Workspace:
    return Workspace.create(git_repo, tmp_path / "ws", tmp_path / "snap.git", "run-test")


@pytest.fixture(params=["docker", "local"])
def sandbox(request, workspace):
    """Every contract test runs against both implementations."""
    if request.param == "docker":
        request.getfixturevalue("sandbox_image")
        from sandboxes.container import DockerSandbox

        box = DockerSandbox(workspace)
    else:
        from sandboxes.local import LocalSandbox

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box = LocalSandbox(workspace)
    with box:
        yield box
