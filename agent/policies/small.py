"""The small-model policy: the harness walks fixed phases and the model makes the two
choices that matter — where the bug is and what the fixed code is — each in a narrow,
well-formed shape a 0.5B model can fill in.

    reproduce  harness: run the failing tests (their outcomes carry traceback frames)
    localize   model: pick one of a few candidate functions ranked from that evidence
               (localize.py); the pick is read from the next-token logprobs of the
               option letters, so it is always one of the options
    inspect    the pick's action: view the chosen function with line numbers
    edit       model: rewrite that function; the reply's start (the fence and the `def`
               line up to its name) is forced by prefill, so it is always code
    test       harness: run the whole suite on the changed tree
    submit     harness: only after a test run on a changed tree passed

A failed attempt is reverted (a harness edit back) and the next one samples hotter
with another seed; after `EDITS_PER_CANDIDATE` attempts the next candidate is picked.
Loop guards act, they do not talk: an edit that changes nothing or repeats an edit
already tried is never run; it is resampled (counted in `policy_state["repeats"]`).
Nothing here reads a task's known fix.
"""

from __future__ import annotations

import hashlib
import re
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agent.backends.base import Generation, GenerationOptions
from agent.graph.state import kept_steps
from agent.policies.base import Proposal
from agent.policies.localize import Candidate, is_test_path, rank_candidates
from agent.prompting import with_repo_notes
from agent.types import ChatMessage, ExitStatus, Step, StepTimings, TokenUsage
from tools.types import TestOutcome, ToolCall

if TYPE_CHECKING:
    from agent.graph.context import RunContext
    from agent.graph.state import AgentState

LABELS = "ABCD"
OPTIONS = len(LABELS)  # candidates shown per choice
MAX_CANDIDATES = 3  # candidates tried before giving up
EDITS_PER_CANDIDATE = 2
RESAMPLES_PER_EDIT = 3  # no-op / repeated edits resampled before moving on
MAX_FUNCTION_LINES = 80  # longer functions are not offered as an edit region
EXPLORE_TEMPERATURE = 0.8
FENCE_END = "\n```"


def _short(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _numbered(lines: list[str], start: int) -> str:
    width = len(str(start + len(lines)))
    return "\n".join(f"{start + i:>{width}} {line}" for i, line in enumerate(lines))


def def_head(source: str) -> str | None:
    """The forced start of an edit: the region through its signature and docstring
    (decorators kept), so the reply is the same function and the model writes only its
    body; up to `def name(` when the source does not parse on its own."""
    import ast
    import textwrap

    lines = source.splitlines(keepends=True)
    try:
        node = ast.parse(textwrap.dedent(source)).body[0]
    except (SyntaxError, IndexError):
        node = None
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
        first = node.body[0]
        docstring = isinstance(first, ast.Expr) and isinstance(
            getattr(first, "value", None), ast.Constant
        ) and isinstance(first.value.value, str)  # fmt: skip
        end = (first.end_lineno or first.lineno) if docstring else first.lineno - 1
        if 0 < end < len(lines):
            return "".join(lines[:end])
    match = re.search(r"^[ \t]*(?:async[ \t]+)?def[ \t]+\w+[ \t]*\(", source, re.MULTILINE)
    return source[: match.end()] if match else None


def function_end_stops(head: str) -> list[str]:
    """Stop strings for the first line after the function: one at the def's own
    indentation or less (the next method, or module-level code such as a test the model
    starts to write)."""
    def_line = next((ln for ln in head.splitlines() if ln.lstrip().startswith(("def ", "async "))),
                    head)  # fmt: skip
    indent = def_line[: len(def_line) - len(def_line.lstrip())]
    starts = ("def ", "class ", "@", "#", "if ", "print", "assert ", "import ", "from ")
    stops = [f"\n{indent}{s}" for s in starts]
    if indent:
        stops += [f"\n{s}" for s in ("def ", "class ", "@", "#", "if ")]
    return [FENCE_END, *stops]


def body_only(head: str, continuation: str) -> str:
    """`head` + the continuation cut at the first line that leaves the function (not
    indented deeper than its `def`): the edit stays inside the bounded region."""
    def_line = next((ln for ln in head.splitlines() if ln.lstrip().startswith(("def ", "async "))),
                    head)  # fmt: skip
    depth = len(def_line) - len(def_line.lstrip())
    kept = []
    for line in continuation.splitlines():
        if line.strip() and len(line) - len(line.lstrip()) <= depth:
            break
        kept.append(line)
    return (head + "\n".join(kept)).rstrip()


def raised_lines(failures: list[TestOutcome], cand: Candidate, lines: list[str]) -> list[str]:
    """The candidate's lines that the failures' tracebacks point at, innermost first."""
    from agent.policies.localize import _locations, _split_frame

    seen: list[str] = []
    for failure in failures:
        spots = [_split_frame(f) for f in failure.frames] + _locations(failure.message)
        for path, number in reversed(spots):
            if path.endswith(cand.path) and cand.start <= number <= cand.end:
                text = lines[number - 1].strip() if number <= len(lines) else ""
                if text and text not in seen:
                    seen.append(text)
    return seen[:2]


class SmallPolicy:
    name = "small"

    def propose(
        self, state: AgentState, ctx: RunContext, index: int, started_at: datetime
    ) -> Proposal:
        ps: dict[str, Any] = dict(state.get("policy_state") or {})
        ps.setdefault("phase", "reproduce")
        for key in ("tried", "edits"):
            ps.setdefault(key, [])
        for key in ("repeats", "malformed", "attempts"):
            ps.setdefault(key, 0)
        kept = kept_steps(state)
        if kept and kept[-1].index > ps.get("seen", -1):
            self._advance(ps, kept[-1], ctx)
            ps["seen"] = kept[-1].index
        phase = ps["phase"]
        if phase == "done":
            return self._exit(ps)
        if phase == "reproduce":
            tests = "\n".join(ctx.task.fail_to_pass)
            call = ToolCall(name="run_tests", arguments={"tests": tests} if tests else {})
            return self._harness(ps, index, started_at, call, "reproduce the failure")
        if phase == "localize":
            return self._localize(ps, ctx, index, started_at)
        if phase == "edit":
            return self._edit(ps, ctx, index, started_at)
        if phase == "test":
            return self._harness(ps, index, started_at, ToolCall(name="run_tests"),
                                 "test the changed tree")  # fmt: skip
        if phase == "revert":
            last = ps["last_edit"]
            call = ToolCall(name="edit", arguments={"path": last["path"], "old": last["new"],
                                                    "new": last["old"]})  # fmt: skip
            return self._harness(ps, index, started_at, call, "revert the failed attempt")
        if phase == "submit":
            cand = ps["current"]
            call = ToolCall(name="submit", arguments={
                "message": f"Fixed {cand['name']} in {cand['path']}; the tests pass."})  # fmt: skip
            return self._harness(ps, index, started_at, call, "tests passed on the changed tree")
        raise ValueError(f"unknown small-policy phase {phase!r}")

    # -- transitions -----------------------------------------------------------------

    def _advance(self, ps: dict[str, Any], last: Step, ctx: RunContext) -> None:
        """Move to the next phase from what the last kept step did and showed."""
        phase = ps["phase"]
        obs = last.observation
        name = last.action.name if last.action else None
        if phase == "reproduce" and name == "run_tests":
            tests = obs.tests if obs else None
            ps["failures"] = [o.model_dump(mode="json") for o in (tests.failures if tests else [])]
            ps["phase"] = "localize"
        elif phase == "localize" and name == "view":
            ps["phase"] = "edit"
        elif phase == "edit" and name == "edit":
            if obs is not None and obs.ok:
                ps["phase"] = "test"
            else:  # refused (did not parse, text not found): an attempt spent
                ps["malformed"] += 1
                self._next_attempt(ps)
        elif phase == "test" and name == "run_tests":
            ps["phase"] = "submit" if obs is not None and obs.ok else "revert"
        elif phase == "revert" and name == "edit":
            self._next_attempt(ps)
        elif phase == "submit" and name == "submit":
            # The tool refused (no change): never confirm a refused submit.
            self._finish(ps, "submit was refused: the tree is unchanged")

    def _next_attempt(self, ps: dict[str, Any]) -> None:
        ps["attempt"] = ps.get("attempt", 0) + 1
        if ps["attempt"] < EDITS_PER_CANDIDATE:
            ps["phase"] = "edit"
        elif len(ps["tried"]) < MAX_CANDIDATES:
            ps["phase"] = "localize"
        else:
            self._finish(ps, f"no edit of {len(ps['tried'])} candidate functions made the "
                         "tests pass")  # fmt: skip

    @staticmethod
    def _finish(ps: dict[str, Any], why: str) -> None:
        ps["phase"], ps["why"] = "done", why

    @staticmethod
    def _exit(ps: dict[str, Any]) -> Proposal:
        why = ps["why"]
        carry = ps.pop("carry", None)
        if carry:
            # No next step will carry the discarded generations: the exit says what they
            # cost, so the run's model time and tokens stay accounted for.
            why += (f"; before that, {carry['repeats']} no-op or repeated edit(s) were "
                    f"generated and not run ({carry['model_s']:.1f} s of generation, "
                    f"{carry['completion_tokens']} tokens)")  # fmt: skip
        return Proposal(None, policy_state=ps, exit=(ExitStatus.BUDGET_EXHAUSTED, why))

    def _harness(self, ps: dict[str, Any], index: int, started_at: datetime, call: ToolCall,
                 why: str) -> Proposal:  # fmt: skip
        step = Step(index=index, actor="harness", message="", thought=why, action=call,
                    started_at=started_at)  # fmt: skip
        return Proposal(step, policy_state=ps)

    # -- localize: the model picks a candidate -----------------------------------------

    def _candidates(self, ps: dict[str, Any], ctx: RunContext) -> list[Candidate]:
        if "candidates" not in ps:
            from tools.index import SymbolIndex

            index = SymbolIndex.build(ctx.workspace.path)
            failures = [TestOutcome.model_validate(f) for f in ps.get("failures", [])]
            ranked = rank_candidates(index, failures, ctx.task.problem_statement, limit=12)
            ranked = [c for c in ranked if c.end - c.start < MAX_FUNCTION_LINES]
            ps["candidates"] = [c.to_json() for c in ranked]
        tried = set(ps["tried"])
        return [c for c in map(Candidate.from_json, ps["candidates"]) if c.key not in tried]

    def _localize(self, ps: dict[str, Any], ctx: RunContext, index: int,
                  started_at: datetime) -> Proposal:  # fmt: skip
        options = self._candidates(ps, ctx)[:OPTIONS]
        if not options:
            self._finish(ps, "no candidate function left to try")
            return self._exit(ps)
        messages = self._choice_prompt(ps, ctx, options)
        started = time.perf_counter()
        pick, generation, note = choose(ctx, messages, len(options), seed=ctx.config.model.seed
                                        + index)  # fmt: skip
        if pick is None:
            ps["malformed"] += 1
            pick, note = 0, f"{note}; took the best-ranked candidate"
        chosen = options[pick]
        ps["tried"].append(chosen.key)
        ps["current"] = chosen.to_json()
        ps["attempt"] = 0
        call = ToolCall(name="view", arguments={"path": chosen.path, "start": chosen.start,
                                                "end": chosen.end})  # fmt: skip
        step = Step(
            index=index, message=LABELS[pick], thought=f"the bug is in {chosen.name} ({note})",
            action=call, prompt=messages, tokens=generation.usage if generation else TokenUsage(),
            timings=StepTimings(model_s=time.perf_counter() - started), started_at=started_at,
        )  # fmt: skip
        return Proposal(step, generation, policy_state=ps)

    def _failure_text(self, ps: dict[str, Any], limit: int = 3) -> str:
        failures = [TestOutcome.model_validate(f) for f in ps.get("failures", [])]
        if not failures:
            return "(the tests pass; the task describes the problem)"
        lines = []
        for f in failures[:limit]:
            lines.append(f"{f.test_id}\n    {_short(f.message, 300)}")
        if len(failures) > limit:
            lines.append(f"... and {len(failures) - limit} more failing tests")
        return "\n".join(lines)

    def _choice_prompt(self, ps: dict[str, Any], ctx: RunContext,
                       options: list[Candidate]) -> list[ChatMessage]:  # fmt: skip
        blocks = []
        for label, cand in zip(LABELS, options, strict=False):
            lines = self._read(ctx, cand.path)[cand.start - 1 : cand.end]
            shown = "\n".join(lines[:12]) + ("\n    ..." if len(lines) > 12 else "")
            blocks.append(f"{label}. `{cand.name}` in {cand.path}\n```python\n{shown}\n```")
        user = (
            f"Task:\n{_short(ctx.task.problem_statement, 700)}\n\n"
            f"Failing tests:\n{self._failure_text(ps)}\n\n"
            "Which function contains the bug?\n\n" + "\n\n".join(blocks) + "\n\n"
            f"Answer with one letter ({', '.join(LABELS[: len(options)])})."
        )
        return [
            ChatMessage(
                role="system",
                content=with_repo_notes("You find bugs in Python repositories.", ctx.repo_notes),
            ),
            ChatMessage(role="user", content=user),
        ]

    # -- edit: the model rewrites the chosen function ----------------------------------

    @staticmethod
    def _read(ctx: RunContext, path: str) -> list[str]:
        try:
            return ctx.sandbox.read_file(path).decode("utf-8").splitlines()
        except (OSError, UnicodeDecodeError, FileNotFoundError):
            return []

    def _test_source(self, ps: dict[str, Any], ctx: RunContext) -> str:
        failures = [TestOutcome.model_validate(f) for f in ps.get("failures", [])]
        if not failures:
            return ""
        test_id = failures[0].test_id
        path = test_id.split("::", 1)[0]
        name = re.split(r"::|\.", test_id.split("[", 1)[0])[-1]
        if not path.endswith(".py") or not is_test_path(path):
            return ""
        lines = self._read(ctx, path)
        for i, line in enumerate(lines):
            if re.match(rf"\s*(?:async\s+)?def {re.escape(name)}\(", line):
                indent = len(line) - len(line.lstrip())
                body = [line]
                for nxt in lines[i + 1 : i + 30]:
                    if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                        break
                    body.append(nxt)
                return "\n".join(body).rstrip()
        return ""

    def _edit(self, ps: dict[str, Any], ctx: RunContext, index: int,
              started_at: datetime) -> Proposal:  # fmt: skip
        cand = Candidate.from_json(ps["current"])
        lines = self._read(ctx, cand.path)
        old = "\n".join(lines[cand.start - 1 : cand.end])
        head = def_head(old)
        if not old.strip() or head is None:
            ps["malformed"] += 1
            self._next_attempt(ps)
            return self.propose_again(ps, ctx, index, started_at)
        test = self._test_source(ps, ctx)
        failures = [TestOutcome.model_validate(f) for f in ps.get("failures", [])]
        raised = raised_lines(failures, cand, lines)
        where = (
            "The error is raised here:\n```python\n" + "\n".join(raised) + "\n```\n"
            if raised else ""
        )  # fmt: skip
        user = (
            f"These tests fail:\n```\n{self._failure_text(ps, limit=2)}\n```\n"
            + (f"The first failing test:\n```python\n{test}\n```\n" if test else "")
            + f"The bug is in `{cand.name}` in {cand.path}:\n```python\n{old}\n```\n"
            + where
            + f"Write `{cand.name}` again with the bug fixed. Change only what is wrong."
        )
        messages = [
            ChatMessage(
                role="system",
                content=with_repo_notes(
                    "You fix bugs in Python code. Reply with code only.", ctx.repo_notes
                ),
            ),
            ChatMessage(role="user", content=user),
        ]
        # Prefill forces the start; without it (a remote server) the code is read from
        # the reply's first fenced block and a reply without one is malformed.
        prefill = ctx.backend.capabilities.prefill
        prefix = "```python\n" + head if prefill else ""
        budget = min(1024, int(ctx.backend.count_tokens(
            [ChatMessage(role="user", content=old)]) * 1.5) + 64)  # fmt: skip
        usage = TokenUsage()
        model_s = 0.0
        generation: Generation | None = None
        new = None
        repeats = 0
        for k in range(RESAMPLES_PER_EDIT):
            hot = ps["attempt"] > 0 or k > 0
            options = GenerationOptions(
                temperature=EXPLORE_TEMPERATURE if hot else ctx.config.model.temperature,
                max_new_tokens=budget, seed=ctx.config.model.seed + index + 101 * k,
                stop=function_end_stops(head) if prefill else [], prefix=prefix,
                capture_layer=ctx.capture_layer,
            )  # fmt: skip
            started = time.perf_counter()
            generation = ctx.backend.generate(messages, adapter=ctx.adapter, options=options)
            model_s += time.perf_counter() - started
            usage = TokenUsage(
                prompt_tokens=usage.prompt_tokens + generation.usage.prompt_tokens,
                completion_tokens=usage.completion_tokens + generation.usage.completion_tokens,
            )
            candidate = (body_only(head, generation.text) if prefill
                         else fit_to_region(fenced(generation.text), old))  # fmt: skip
            if candidate is None:
                ps["malformed"] += 1
                continue
            digest = _digest(cand.key, candidate)
            if candidate != old.rstrip() and digest not in ps["edits"]:
                new = candidate
                ps["edits"].append(digest)
                break
            repeats += 1  # the guard: a no-op or an edit already tried is not run
        ps["repeats"] += repeats
        if new is None:
            # Nothing is run for this attempt; the next step carries its cost and count,
            # so trajectories (and the failure taxonomy) still see them.
            carry = ps.setdefault("carry", {"repeats": 0, "prompt_tokens": 0,
                                            "completion_tokens": 0, "model_s": 0.0})  # fmt: skip
            carry["repeats"] += repeats
            carry["prompt_tokens"] += usage.prompt_tokens
            carry["completion_tokens"] += usage.completion_tokens
            carry["model_s"] += model_s
            self._next_attempt(ps)
            return self.propose_again(ps, ctx, index, started_at)
        ps["attempts"] += 1
        ps["last_edit"] = {"path": cand.path, "old": old, "new": new}
        call = ToolCall(name="edit", arguments={"path": cand.path, "old": old, "new": new})
        step = Step(
            index=index, message=prefix + (generation.text if generation else ""),
            thought=f"rewrite {cand.name}", action=call, prompt=messages, tokens=usage,
            temperature=options.temperature, timings=StepTimings(model_s=model_s),
            started_at=started_at,
        )  # fmt: skip
        if repeats:
            step.notes.append(f"loop guard: {repeats} no-op or repeated edit(s) resampled")
        return Proposal(step, generation, policy_state=ps)

    def propose_again(self, ps: dict[str, Any], ctx: RunContext, index: int,
                      started_at: datetime) -> Proposal:  # fmt: skip
        """Continue in the phase `ps` moved to without a step in between."""
        if ps["phase"] == "done":
            return self._exit(ps)
        if ps["phase"] == "localize":
            proposal = self._localize(ps, ctx, index, started_at)
        elif ps["phase"] == "edit":
            proposal = self._edit(ps, ctx, index, started_at)
        else:
            raise ValueError(f"cannot continue in phase {ps['phase']!r} without a step")
        carry = ps.pop("carry", None)
        if carry and proposal.step is not None:
            step = proposal.step
            step.notes.append(f"loop guard: {carry['repeats']} no-op or repeated edit(s) "
                              "resampled in an attempt that ran nothing")  # fmt: skip
            step.tokens = TokenUsage(
                prompt_tokens=step.tokens.prompt_tokens + carry["prompt_tokens"],
                completion_tokens=step.tokens.completion_tokens + carry["completion_tokens"],
            )
            step.timings.model_s += carry["model_s"]
        return proposal


def fenced(text: str) -> str | None:
    """The first fenced code block of a reply (its closing fence may be cut off)."""
    match = re.search(r"```[\w+-]*\n(.*?)(?:\n```|$)", text, re.DOTALL)
    return match.group(1).rstrip() if match and match.group(1).strip() else None


_DEF = ("def ", "async def ")


def _shift(line: str, by: int) -> str:
    if not line.strip():
        return line
    if by >= 0:
        return " " * by + line
    lead = len(line) - len(line.lstrip(" "))
    return line[min(lead, -by) :]


def fit_to_region(code: str | None, old: str) -> str | None:
    """A rewrite read from a fenced block (no prefill) made to fit the function it
    replaces, as the forced start does with prefill: from its first decorator or `def`
    on (an import written above it is outside the region), shifted to the old def's
    indentation (small models write a method at column 0, which would break its class),
    and cut where it leaves the function's body. None when it has no `def`."""
    if code is None:
        return None
    lines = code.splitlines()
    first_def = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith(_DEF)), None)
    old_def = next((ln for ln in old.splitlines() if ln.lstrip().startswith(_DEF)), None)
    if first_def is None or old_def is None:
        return None
    start = first_def  # its decorators come with it
    while start > 0 and lines[start - 1].lstrip().startswith("@"):
        start -= 1
    want = len(old_def) - len(old_def.lstrip())
    have = len(lines[first_def]) - len(lines[first_def].lstrip())
    region = "\n".join(_shift(ln, want - have) for ln in lines[start:]) + "\n"
    head = def_head(region)
    if head is None or not head.endswith("\n"):  # it does not parse: cut after the def line
        head = "".join(region.splitlines(keepends=True)[: first_def - start + 1])
    return body_only(head, region[len(head) :])


def choose(
    ctx: RunContext, messages: list[ChatMessage], n: int, seed: int
) -> tuple[int | None, Generation | None, str]:
    """The model's pick among `n` lettered options: the option letter with the highest
    next-token logprob (one forward pass), else the letter it writes; None if neither."""
    # The probe layer too: a pick is a step the monitor assesses like any other.
    options = GenerationOptions(temperature=0.0, max_new_tokens=1, seed=seed,
                                top_logprobs=20 if ctx.backend.capabilities.logprobs else 0,
                                capture_layer=ctx.capture_layer)  # fmt: skip
    generation = ctx.backend.generate(messages, adapter=ctx.adapter, options=options)
    labels = LABELS[:n]
    if generation.top_logprobs:
        best: dict[str, float] = {}
        for token, logprob in generation.top_logprobs[0]:
            letter = token.strip().strip(".)").upper()
            if letter in labels and logprob > best.get(letter, float("-inf")):
                best[letter] = logprob
        if best:
            temperature = ctx.config.model.temperature
            if temperature > 0:
                # An exploring sample (best-of-k) draws its pick from the letters'
                # distribution, so samples try other candidates, not only the top one.
                letter = _draw(best, temperature, seed)
                return (labels.index(letter), generation,
                        f"option {letter} drawn at temperature {temperature}, "
                        f"logprob {best[letter]:.2f}")  # fmt: skip
            letter = max(best, key=lambda k: best[k])
            return labels.index(letter), generation, f"option {letter}, logprob {best[letter]:.2f}"
    match = re.match(r"\s*\(?([A-Z])\b", generation.text.upper())
    if match and match.group(1) in labels:
        return labels.index(match.group(1)), generation, f"option {match.group(1)} (written)"
    return None, generation, f"no option letter in {generation.text[:20]!r}"


def _draw(logprobs: dict[str, float], temperature: float, seed: int) -> str:
    """One letter from softmax(logprob / temperature), reproducible for a seed."""
    import math
    import random

    letters = sorted(logprobs)
    top = max(logprobs.values())
    weights = [math.exp((logprobs[k] - top) / temperature) for k in letters]
    return random.Random(seed).choices(letters, weights=weights)[0]
