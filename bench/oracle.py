"""The oracle: a scripted "model" that applies each task's gold fix, then submits.

`engram bench run --oracle` drives the whole pipeline — task checkout, the real agent
graph and tools in a real sandbox, the agent's own verification, grading in a fresh
sandbox, result files, reports — with no model time. It checks the harness end to end
(every task should resolve, as `engram bench grade --gold` checks the grader alone) and
measures the harness's own cost (`scripts/bench_harness.py`). It reads the task's gold
patch, so its numbers are never a model's and reports label the run as an oracle run.
"""

from __future__ import annotations

from agent.backends.fake import FakeBackend
from bench.tasks import BenchTask

ORACLE_MODEL_ID = "oracle (gold patch replay)"
_EOF = "ENGRAM_GOLD_PATCH_EOF"


class OracleError(RuntimeError):
    user_facing = True


def oracle_replies(task: BenchTask) -> list[str]:
    """The replies, in the text protocol: apply the gold patch with git, then submit."""
    if not task.patch or not task.patch.strip():
        raise OracleError(f"{task.instance_id} has no gold patch: the oracle cannot run it")
    patch = task.patch if task.patch.endswith("\n") else task.patch + "\n"
    if f"\n{_EOF}\n" in f"\n{patch}":
        raise OracleError(f"{task.instance_id}: its patch contains the heredoc marker {_EOF}")
    apply = (f"I apply the known fix.\n```bash\ngit apply --whitespace=nowarn - <<'{_EOF}'\n"
             f"{patch}{_EOF}\n```")  # fmt: skip
    submit = "The fix is in.\n```submit\n```"
    # A second submit in case the first is questioned; the step limit ends anything longer.
    return [apply, submit, submit]


def oracle_backend(task: BenchTask) -> FakeBackend:
    return FakeBackend(oracle_replies(task), model_id=ORACLE_MODEL_ID)
