"""ProbeMonitor inside the real agent graph: a scripted probe's scores drive resample and
rollback, with the real tools in a real sandbox, the real verifier, and a FakeBackend
whose Generations carry synthetic hidden states (feature 0 sets the score).

The script: view (calm) → an invented file (step alarm → resample, never runs) → a
wrong edit (passes) → a step that tips the prefix over its threshold (→ rollback: the
wrong edit is undone, files and conversation) → the right edit on the restored file →
submit. The tests then pass.
"""

from __future__ import annotations

import uuid
import warnings

import numpy as np
import pytest

from agent.backends.base import Generation
from agent.backends.fake import FakeBackend
from agent.config import EngramConfig
from agent.home import Home
from agent.run import Handles, Runner
from agent.types import Decision, ExitStatus, Task
from probes.collect import RecordingMonitor, rows_from_trajectory
from probes.labels import CLEAN, HALLUCINATED, UNKNOWN, Labeler
from probes.monitor import ProbeMonitor
from probes.plots import sparkline
from probes.probe import ScriptedProbe
from tests.conftest import make_git_repo

LAYER = 4
FILES = {
    "pyproject.toml": '[project]\nname = "calc"\nversion = "0"\n',
    "calc/__init__.py": "",
    "calc/core.py": "def add(a, b):\n    return a - b\n",
    "tests/test_core.py": "from calc.core import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


def edit(old: str, new: str) -> str:
    return (f"Fix the operator.\n```edit\npath: calc/core.py\n<<<<<<< SEARCH\n    return {old}\n"
            f"=======\n    return {new}\n>>>>>>> REPLACE\n```")  # fmt: skip


SCRIPT = [
    ("Let me read the code.\n```view\npath: calc/core.py\n```", -3.0),
    ("The helper lives elsewhere.\n```view\npath: calc/helpers.py\n```", 4.0),
    (edit("a - b", "a * b"), 1.5),
    ("Let me run the tests.\n```run_tests\n```", 2.0),
    (edit("a - b", "a + b"), -2.0),
    ("```submit\nmessage: add adds now\n```", -3.0),
]


def generation(text: str, value: float) -> Generation:
    hidden = np.zeros((5, 8), dtype=np.float32)
    hidden[:, 0] = value
    return Generation(text=text, hidden=hidden, hidden_layer=LAYER, logprobs=[-0.3] * 5,
                      entropies=[0.9] * 5)  # fmt: skip


def make_sandbox(kind: str):
    def make(workspace):
        if kind == "docker":
            from sandboxes.container import DockerSandbox

            return DockerSandbox(workspace)
        from sandboxes.local import LocalSandbox

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return LocalSandbox(workspace)

    return make


@pytest.fixture(scope="module", params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def run(request, tmp_path_factory):
    """One real run per sandbox kind, shared by the tests below (each checks one property)."""
    from agent.verify import TestVerifier
    from tools.base import ToolContext
    from tools.registry import Toolbox

    if request.param == "docker":
        request.getfixturevalue("sandbox_image")
    tmp_path = tmp_path_factory.mktemp("graph")
    repo = make_git_repo(tmp_path / "calc", FILES)
    backend = FakeBackend([generation(text, value) for text, value in SCRIPT])
    probe = ScriptedProbe(layer=LAYER, step_threshold=0.9, prefix_threshold=0.6, decay=0.5)
    handles = Handles(
        backend=backend, make_sandbox=make_sandbox(request.param),
        make_tools=lambda sandbox, workspace: Toolbox(ToolContext(
            sandbox=sandbox, tree_changed=lambda: bool(workspace.diff().strip()))),
        make_verifier=lambda sandbox, workspace: TestVerifier(sandbox),
        system_prompt=lambda tools, workspace: "You fix bugs.\n" + tools.protocol_text(),
        monitor=RecordingMonitor(ProbeMonitor(probe), LAYER), capture_layer=LAYER,
    )  # fmt: skip
    task = Task(id="calc-add", repo=str(repo), problem_statement="add(1, 2) returns -1, not 3.")
    trajectory = Runner(Home(tmp_path / "home"), EngramConfig()).start(
        task, repo, handles, run_id=f"probe-graph-{uuid.uuid4().hex[:6]}"
    )
    return trajectory, probe, backend, handles.monitor, repo


def test_the_probe_decisions_route_the_graph(run):
    trajectory, *_ = run
    decisions = [s.readings[-1].decision for s in trajectory.steps]
    assert decisions == [Decision.ACCEPT, Decision.RESAMPLE, Decision.ACCEPT, Decision.ROLLBACK,
                         Decision.ACCEPT, Decision.ACCEPT]  # fmt: skip
    view, invented, wrong, trigger, right, submit = trajectory.steps
    assert invented.resampled and invented.observation is None  # dropped before it ran
    assert wrong.rolled_back and wrong.observation.ok  # it ran, then was undone
    assert trigger.rolled_back and trigger.observation is None
    assert right.kept and right.observation.ok  # its SEARCH text exists only after the restore
    assert [s.index for s in trajectory.kept_steps] == [view.index, right.index, submit.index]


def test_the_run_ends_fixed_and_the_undone_edit_is_gone(run):
    trajectory, *_ = run
    assert trajectory.exit_status == ExitStatus.SUBMITTED
    assert trajectory.verification.passed and trajectory.verified_by == "tests"
    assert "+    return a + b" in trajectory.final_diff
    assert "a * b" not in trajectory.final_diff


def test_readings_are_complete(run):
    trajectory, *_ = run
    for step in trajectory.steps:
        r = step.readings[-1]
        assert r.step_score is not None and r.prefix_score is not None
        assert (r.step_threshold, r.prefix_threshold, r.probe_id) == (0.9, 0.6, "scripted")
        assert r.mean_entropy == pytest.approx(0.9) and r.min_logprob == pytest.approx(-0.3)
        assert r.latency_s > 0
    assert "step score 0.98 > 0.90" in trajectory.steps[1].reason
    assert "prefix score 0.76 > 0.60" in trajectory.steps[3].reason


def test_after_the_rollback_the_prefix_forgets_the_undone_step(run):
    _, probe, *_ = run
    values = [[h.vector[0] for h in history] for _, history in probe.calls]
    # History per assessed step: -, [view], [view], [view, wrong], [view] (rolled back), …
    assert values[3] == [-3.0, 1.5]
    assert values[4] == [-3.0]
    assert values[5] == [-3.0, -2.0]


def test_the_conversation_is_rolled_back_too(run):
    _, _, backend, *_ = run
    messages_after_rollback = backend.calls[4][0]
    text = "\n".join(m.content for m in messages_after_rollback)
    assert "a * b" not in text  # the undone edit is no longer in the model's context
    assert "undone" in text  # and the model is told why


def test_the_sparkline_shows_the_resample_and_the_rollback(run):
    trajectory, *_ = run
    lines = sparkline(trajectory).splitlines()
    assert lines[2] == "marks   ru↺"


def test_the_run_becomes_dataset_rows_with_the_monitors_histories(run):
    from tools.index import SymbolIndex

    trajectory, _, _, recorder, repo = run
    shard = rows_from_trajectory(
        trajectory, recorder.records, Labeler(SymbolIndex.build(repo)), LAYER
    )
    # The timeline replayed from the trajectory matches what the graph showed the monitor.
    assert [r.history for r in shard.rows] == [[], [0], [0], [0, 2], [0], [0, 4]]
    assert [r.label for r in shard.rows] == [CLEAN, HALLUCINATED, UNKNOWN, UNKNOWN, CLEAN, CLEAN]
    assert "calc/helpers.py" in shard.rows[1].reasons[0]
    # each row names its step's tool, so one kind of step can be compared with its own kind
    tools = {s.index: s.action.name for s in trajectory.steps if s.action}
    assert [r.tool for r in shard.rows] == [tools[r.step_index] for r in shard.rows]
    assert {r.tool for r in shard.rows} >= {"view"}
