"""Bootstrap demonstrations: the known fix read from a gold patch, answered in the small
policy's format, and — on the real ledger tasks, Docker sandbox — written as verified
runs labelled `bootstrap`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.backends.base import GenerationOptions
from agent.config import EngramConfig
from agent.home import Home
from agent.policies.small import body_only, def_head
from agent.types import ChatMessage, ExitStatus
from bench.bootstrap import (
    BootstrapError,
    DemonstrationUnavailable,
    Fix,
    FixFollowingBackend,
    changed_lines,
    function_spans,
    patched_files,
    write_demonstration,
)
from bench.repos import task_checkout
from bench.tasks import load_tasks
from memory.trajectories import TrajectoryStore
from tests.conftest import make_git_repo

TASKS = Path(__file__).resolve().parents[2] / "bench" / "data" / "ledger.jsonl"

BEFORE = '''\
import functools


def untouched(x):
    return x


class Money:
    @functools.cache
    def scaled(self, factor):
        """Multiply."""
        total = self.amount * factor
        return total - 1

    def other(self):
        return 0
'''


def _after(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_function_spans_count_decorators_and_qualify_methods():
    spans = function_spans(BEFORE)
    assert spans["untouched"] == (4, 5)
    assert spans["Money.scaled"] == (9, 13)  # from the decorator line
    assert spans["Money.other"] == (15, 16)


def test_changed_lines_cover_replacements_and_insertions():
    after = _after(BEFORE, "return total - 1", "return total")
    assert changed_lines(BEFORE, after) == {13}
    inserted = _after(BEFORE, "        return 0\n", "        x = 1\n        return 0\n")
    assert changed_lines(BEFORE, inserted) == {15}


def test_a_single_function_fix_is_the_target_with_its_fixed_text():
    after = _after(BEFORE, "return total - 1", "return total")
    fix = Fix({"m.py": (BEFORE, after)})
    assert fix.problem is None and fix.target == ("m.py", "Money.scaled")
    assert fix.functions[fix.target].endswith("        return total")
    assert fix.functions[fix.target].lstrip().startswith("@functools.cache")


def test_fixes_the_policy_cannot_express_are_named():
    two = _after(_after(BEFORE, "return total - 1", "return total"), "return 0", "return 1")
    assert Fix({"m.py": (BEFORE, two)}).target is None
    assert "2 functions" in (Fix({"m.py": (BEFORE, two)}).problem or "")
    outside = _after(BEFORE, "import functools", "import functools as ft")
    assert "outside any function" in (Fix({"m.py": (BEFORE, outside)}).problem or "")


def _choice_prompt(*options: tuple[str, str]) -> list[ChatMessage]:
    blocks = "\n\n".join(f"{'ABCD'[i]}. `{n}` in {p}\n```python\npass\n```"
                         for i, (n, p) in enumerate(options))  # fmt: skip
    return [ChatMessage(role="user", content=f"Task:\nx\n\nWhich function contains the bug?"
                        f"\n\n{blocks}\n\nAnswer with one letter.")]  # fmt: skip


def test_the_backend_picks_the_fixed_function_among_the_options():
    after = _after(BEFORE, "return total - 1", "return total")
    backend = FixFollowingBackend(Fix({"m.py": (BEFORE, after)}))
    gen = backend.generate(
        _choice_prompt(("untouched", "m.py"), ("Money.scaled", "m.py")),
        options=GenerationOptions(max_new_tokens=1),
    )
    assert gen.text == "B" and gen.top_logprobs[0][0] == ("B", 0.0)
    with pytest.raises(DemonstrationUnavailable, match="not among the candidates"):
        backend.generate(_choice_prompt(("untouched", "m.py"), ("Money.other", "m.py")))


def test_the_backend_writes_the_fixed_body_after_the_forced_head():
    after = _after(BEFORE, "return total - 1", "return total")
    backend = FixFollowingBackend(Fix({"m.py": (BEFORE, after)}))
    old = "\n".join(BEFORE.splitlines()[8:13])
    head = def_head(old)
    assert head is not None
    prompt = [ChatMessage(role="user", content=f"The bug is in `Money.scaled` in m.py:\n"
                          f"```python\n{old}\n```\nWrite it again.")]  # fmt: skip
    gen = backend.generate(prompt, options=GenerationOptions(prefix="```python\n" + head))
    assert body_only(head, gen.text) == "\n".join(after.splitlines()[8:13])
    other = [ChatMessage(role="user", content="The bug is in `untouched` in m.py:\n```python\n")]
    with pytest.raises(DemonstrationUnavailable, match=r"the fix is in Money\.scaled"):
        backend.generate(other, options=GenerationOptions(prefix="```python\ndef untouched("))


def test_patched_files_read_the_base_commit_and_leave_the_checkout_alone(tmp_path):
    repo = make_git_repo(tmp_path / "r", {"m.py": BEFORE})
    import subprocess

    base = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    patch = ("--- a/m.py\n+++ b/m.py\n@@ -12,3 +12,3 @@\n         total = self.amount * factor\n"
             "-        return total - 1\n+        return total\n \n")  # fmt: skip
    files = patched_files(repo, base, patch)
    assert files["m.py"] == (BEFORE, _after(BEFORE, "return total - 1", "return total"))
    assert (repo / "m.py").read_text() == BEFORE
    with pytest.raises(BootstrapError, match="does not apply"):
        patched_files(repo, base, patch.replace("total - 1", "total - 2"))


# -- the real thing: ledger tasks, Docker sandbox -------------------------------------


def _config() -> EngramConfig:
    return EngramConfig.model_validate(
        {"sandbox": {"kind": "docker"}, "probes": {"enabled": False}}
    )


@pytest.mark.docker
def test_a_training_task_becomes_a_verified_bootstrap_run(sandbox_image):
    home = Home.resolve()
    task = next(t for t in load_tasks(TASKS) if t.instance_id == "ledger__bug-c26c043fb3a6")
    assert task.split == "train"
    trajectory = write_demonstration(task, task_checkout(task, home), home, _config())
    assert trajectory is not None
    stored = TrajectoryStore(home.runs).load(trajectory.run_id)
    assert stored.source == "bootstrap" and stored.eligible_for_learning
    assert stored.verification is not None and stored.verification.passed
    assert stored.policy == "small" and stored.exit_status == ExitStatus.SUBMITTED
    model_steps = [s for s in stored.steps if s.actor == "model"]
    # localize (a letter) and edit (the fixed function), each with the prompt it answered
    assert [s.action.name for s in model_steps if s.action] == ["view", "edit"]
    assert all(s.prompt for s in model_steps)
    # the edit is the gold fix: applying the run's diff equals applying the task's patch
    assert stored.final_diff.strip()
    changed = {line for line in stored.final_diff.splitlines() if line.startswith(("+", "-"))}
    gold = {line for line in task.patch.splitlines() if line.startswith(("+", "-"))}
    assert changed == gold


@pytest.mark.docker
def test_test_tasks_are_refused_and_unexpressible_fixes_give_nothing(sandbox_image):
    home = Home.resolve()
    tasks = load_tasks(TASKS)
    test_task = next(t for t in tasks if t.split == "test")
    with pytest.raises(BootstrapError, match="training tasks only"):
        write_demonstration(test_task, task_checkout(test_task, home), home, _config())
    multi = next(t for t in tasks if t.instance_id == "ledger__bug-984a18324644")
    assert multi.split == "train"
    assert write_demonstration(multi, task_checkout(multi, home), home, _config()) is None
    (run,) = [p for p in home.runs.iterdir() if p.is_dir()]
    stored = json.loads((run / "trajectory.json").read_text())
    assert stored["source"] == "bootstrap" and not stored["eligible_for_learning"]
    assert "no bootstrap demonstration" in stored["exit_reason"]
    assert "2 functions" in stored["exit_reason"]
