"""Step labels from the repository, never from a judge model.

A step is **hallucinated** when
- its thought or action names a file, module, class, function or method the
  repository does not have (`tools.grounding` on the thought + the parsed action), or
- its tool call failed because of such a name: a missing file, or a NameError /
  AttributeError / ImportError on a name the repository lacks
  (`tools.failure_names`), and the step itself wrote that name.

A step is **clean** when it was kept in a *verified* run (`run_verified`) and passes
both checks. Every other step is **unknown** and stays out of training: a grounded
step of a failed run may still have been wrong in ways names do not show.

Names that are not held against a step:
- names the run itself created in an earlier step that stood when this one was
  proposed (a file it wrote, a function it added): they exist at that moment — the
  index is of the base commit, not of the workspace then;
- for tool failures, names the step's own text does not contain: a test suite failing
  on the task's bug raises AttributeErrors the step never wrote;
- names the task's problem statement mentions (a task may ask for `Money.halve`;
  calling it before writing it is premature, not invented). A step whose only missing
  names are these is unknown, not clean.

Not guaranteed: the "created by the run" check reads what earlier actions wrote
(files created, functions defined in their code) rather than re-indexing each snapshot,
so a name produced indirectly (by a script the agent ran) can be mislabelled.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from agent.types import Step, StepLabel, Task, Trajectory
from tools.failure_names import missing_from_failure
from tools.grounding import Grounder
from tools.mentions import extract
from tools.types import NameCheck, ToolCall

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex

HALLUCINATED, CLEAN, UNKNOWN = 1, 0, -1
# Failed observations whose text is the tool's own complaint about a name (or a command's
# output): the parser's format errors and usage messages quote example paths, not claims.
_FAILURE_KINDS = {None, "not_found", "tool_error", "syntax_error"}
_BODY_ARGS = {"bash": "command", "create": "content"}
_WRITING_TOOLS = {"create", "edit", "bash"}


def label_code(label: StepLabel | None) -> int:
    """1 hallucinated, 0 clean, −1 unknown (the dataset's and the heads' encoding)."""
    if label is None or label.source == "unknown":
        return UNKNOWN
    return HALLUCINATED if label.hallucinated else CLEAN


def run_verified(trajectory: Trajectory) -> bool:
    """The run succeeded: its tests passed in the sandbox, or a person merged its result."""
    return trajectory.resolved or trajectory.verified_by is not None


def render_action(call: ToolCall) -> str:
    """The action as a text-protocol block, so grounding reads native tool calls and text
    actions alike (the parsed call is what ran, whatever the model's spelling)."""
    args = dict(call.arguments)
    lines: list[str] = []
    body = ""
    if call.name == "edit" and ("old" in args or "new" in args):
        old, new = str(args.pop("old", "")), str(args.pop("new", ""))
        body = f"<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE"
    elif call.name in _BODY_ARGS and _BODY_ARGS[call.name] in args:
        body = str(args.pop(_BODY_ARGS[call.name]))
    for key, value in args.items():
        text = str(value)
        if "\n" in text:
            body = f"{body}\n{text}" if body else text
        else:
            lines.append(f"{key}: {text}")
    content = "\n".join([*lines, *([body.rstrip()] if body else [])])
    fence = "````" if "```" in content else "```"
    return f"{fence}{call.name}\n{content}\n{fence}"


def step_text(step: Step) -> str:
    """What the step claims: its thought and its parsed action (the raw reply when the
    action could not be parsed)."""
    if step.action is None:
        return step.message
    return f"{step.thought}\n\n{render_action(step.action)}".strip()


def _failed(step: Step) -> bool:
    obs = step.observation
    if obs is None or obs.error_kind not in _FAILURE_KINDS:
        return False
    return not obs.ok or obs.exit_code not in (None, 0)


def _forms(name: str) -> set[str]:
    """A name as it may be written elsewhere: itself, its last dotted part, its file name."""
    forms = {name, name.rsplit("/", 1)[-1], name.split("::")[-1]}
    # A dotted name's last part (`ledger.money.Money` → `Money`), but never a file's
    # extension: `py` would excuse any invented path in a statement that names a file.
    if "/" not in name and not name.endswith(".py"):
        forms.add(name.rsplit(".", 1)[-1])
    return {f for f in forms if f}


def _mentions_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text) is not None


class Labeler:
    """Labels the steps of runs in one repository (reuse it: the grounder is built once)."""

    def __init__(self, index: SymbolIndex):
        self.index = index
        self.grounder = Grounder(index)

    def written_names(self, step: Step) -> set[str]:
        """Files and definitions a step's action wrote (what later steps may rely on)."""
        if step.action is None or step.action.name not in _WRITING_TOOLS:
            return set()
        defined = extract(render_action(step.action), self.grounder.extensions).defined
        path = step.action.arguments.get("path")
        if isinstance(path, str) and path:
            defined.add(path)
        for value in step.action.arguments.values():
            if isinstance(value, str):
                defined.update(re.findall(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", value, re.M))
        return {form for name in defined for form in _forms(name)}

    def label_step(
        self,
        step: Step,
        *,
        verified: bool,
        task: Task | None = None,
        created: set[str] | frozenset[str] = frozenset(),
    ) -> StepLabel:
        text = step_text(step)
        statement = task.problem_statement if task is not None else ""

        def exists_now(check: NameCheck) -> bool:
            return bool(_forms(check.name) & created)

        def excused(check: NameCheck) -> bool:
            return bool(statement) and any(_mentions_word(statement, f) for f in _forms(check.name))

        # Names an earlier step of the run created exist at this step: not missing at all.
        grounding = [c for c in self.grounder.check(text).missing if not exists_now(c)]
        failure: list[NameCheck] = []
        if _failed(step):
            assert step.observation is not None
            failure = [
                c
                for c in missing_from_failure(step.observation.text, self.index)
                if not exists_now(c) and any(_mentions_word(text, f) for f in _forms(c.name))
            ]
        held = [c for c in grounding if not excused(c)]
        held_failure = [
            c for c in failure if not excused(c) and c.name not in {h.name for h in held}
        ]
        if held or held_failure:
            reasons = [f"names {c.kind} `{c.name}`, which the repository does not have"
                       for c in held]  # fmt: skip
            reasons += [
                f"its {step.action.name if step.action else 'action'} failed on {c.kind} "
                f"`{c.name}`, which the repository does not have"
                for c in held_failure
            ]
            return StepLabel(
                hallucinated=True, reasons=reasons,
                source="grounding" if held else "tool_failure",
            )  # fmt: skip
        if grounding or failure:
            names = ", ".join(sorted({c.name for c in [*grounding, *failure]}))
            return StepLabel(hallucinated=False, source="unknown",
                             reasons=[f"missing names the task asks for: {names}"])  # fmt: skip
        if verified and step.kept:
            return StepLabel(hallucinated=False, source="verified_run",
                             reasons=["kept step of a verified run; every name it uses exists"])  # fmt: skip
        why = "run not verified" if not verified else "step was dropped (resampled or rolled back)"
        return StepLabel(hallucinated=False, source="unknown", reasons=[f"grounded, but {why}"])

    def label_run(self, trajectory: Trajectory) -> list[StepLabel]:
        """One label per step of the trajectory, in order (dropped steps included)."""
        verified = run_verified(trajectory)
        steps = trajectory.steps
        written: dict[int, set[str]] = {}
        labels: list[StepLabel] = []
        for pos, history in enumerate(monitor_histories(steps)):
            # What the kept steps before it wrote is in the tree this step acted on.
            created = {
                name
                for p in history
                for name in written.setdefault(p, self.written_names(steps[p]))
            }
            labels.append(
                self.label_step(
                    steps[pos], verified=verified, task=trajectory.task, created=created
                )
            )
        return labels


def monitor_histories(steps: Sequence[Step]) -> list[list[int]]:
    """For each step (by position), the positions of the kept steps that stood when it was
    proposed — what the monitor saw as history, and whose writes were in the tree —
    replaying resamples and rollbacks as the graph did them."""
    kept: list[int] = []
    out: list[list[int]] = []
    for pos, step in enumerate(steps):
        out.append(list(kept))
        if step.observation is not None:
            kept.append(pos)  # it ran; a later rollback may undo it
        elif step.rolled_back and step.reason:
            # The step that triggered a rollback (never run): the steps it undid carry the
            # same reading's reason (agent.graph.nodes.rollback writes both).
            cause = step.reason.removeprefix("not run: ")
            kept = [p for p in kept if steps[p].reason != f"rolled back: {cause}"]
    return out


def label_codes(labels: Sequence[StepLabel | None]) -> list[int]:
    return [label_code(label) for label in labels]
