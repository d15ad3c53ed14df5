"""Repo notes the model writes itself: after a verified run, and from the repository.

- `notes_from_run`: the task, the kept steps condensed, the final diff → short claims
  about where things live, how tests run, conventions, pitfalls the run hit.
- `notes_from_repo`: SEAL's "passage → implications" moved to code. Per module, the
  model sees the module's outline from the index (path, classes, functions with
  signatures and first docstring lines, the tests that exercise it) and writes notes
  about where things live, what calls what and how it is tested.

Every claim goes through `memory.note_check` (parse, ground against the index, dedupe,
cap per kind). Any `LLMBackend` writes them (PeftLM, the agent's hf or llamacpp
backends); decoding is greedy with the given seed, so a backend that is deterministic
for a seed writes the same notes twice. A reply that cannot be parsed loses that reply
only and is counted in `NotesResult.malformed`.

This module also re-exports the rest of the notes interface (`Note`, `NotesResult`,
`NotesStore`, `notes_for_prompt`, `qa_from_notes`, `note_self_edits`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.backends.base import GenerationOptions, LLMBackend
from agent.types import ChatMessage, Trajectory
from memory.module_outline import outline, source_modules
from memory.note import NOTE_KINDS, Note, NoteKind, NotesResult
from memory.note_check import Deduper, check_claims, parse_notes
from memory.notes_store import NotesStore, notes_for_prompt
from memory.qa import note_self_edits, qa_from_notes
from memory.tested_modules import test_files_by_module

if TYPE_CHECKING:  # pragma: no cover
    from tools.index import SymbolIndex

RUN_PER_KIND = 3  # a run teaches a few things; more is usually the same thing reworded
MODULE_PER_KIND = 8
MAX_NEW_TOKENS = 360
DIFF_CHARS = 1800
STEP_CHARS = 160

NOTE_FORMAT = (
    "One note per line, in exactly this form:\n"
    "[kind] claim\n"
    "where kind is one of: location, api, testing, convention, pitfall. "
    "Each claim is one short sentence a colleague can rely on. Put every code name and "
    "file path in backticks. Only state what you were shown."
)
_KIND_HELP = (
    "location = which file defines which class or function; api = what a function takes "
    "and returns, or what calls what; testing = how and where it is tested; convention = a "
    "rule the code follows; pitfall = a mistake that is easy to make."
)


def _system(repo_name: str) -> str:
    return (
        f"You write short factual notes about the code repository `{repo_name}` for a "
        "colleague who will work on it without seeing the code."
    )


def repo_display_name(repo_root: Path) -> str:
    """The project's name from pyproject.toml where it has one, else the folder's."""
    import tomllib

    try:
        data = tomllib.loads((repo_root / "pyproject.toml").read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name")
        if isinstance(name, str) and name.strip():
            return name.strip()
    except (OSError, ValueError):
        pass
    return repo_root.resolve().name


def _generate(lm: LLMBackend, messages: list[ChatMessage], seed: int) -> str:
    options = GenerationOptions(temperature=0.0, max_new_tokens=MAX_NEW_TOKENS, seed=seed)
    return lm.generate(messages, options=options).text


def _ask(lm: LLMBackend, system: str, user: str, seed: int) -> str:
    messages = [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]
    return _generate(lm, messages, seed)


def _grounder(index: SymbolIndex):
    from tools.grounding import Grounder

    return Grounder(index)


def _read(result: NotesResult, reply: str, grounder, deduper: Deduper, *, per_kind: int,
          source: str, source_run: str | None = None, examples: str = "") -> None:  # fmt: skip
    result.replies += 1
    claims, bad = parse_notes(reply)
    if not claims:
        result.malformed += 1
        return
    result.bad_lines += bad
    kept, dropped = check_claims(claims, grounder, deduper, per_kind=per_kind, source=source,
                                 source_run=source_run, examples=examples.splitlines())  # fmt: skip
    result.kept.extend(kept)
    result.dropped.extend(dropped)


# --------------------------------------------------------------------------- from the repo


def module_prompt(repo_name: str, module_outline: str) -> str:
    return (
        f"Outline of one module of `{repo_name}`:\n\n{module_outline}\n\n"
        "Write up to 8 notes about this module: which file defines each main class and "
        "function, what the main functions take and return, what calls what, and which "
        f"tests cover it.\n{_KIND_HELP}\n{NOTE_FORMAT}"
    )


# One worked example, as an earlier turn of the conversation: asked cold, the 0.5B model
# writes one generic line or copies the format's placeholder; shown a module and its
# notes, it writes notes about the module in front of it. The example is a made-up
# repository, so nothing of it can pass grounding in a real one.
_EXAMPLE_OUTLINE = """file: src/shop/basket.py  (module `shop.basket`)
  docstring: Shopping baskets and their totals.
  class Basket  # Items a customer is about to buy.
    def add(self, item: Item, quantity: int = 1) -> None  # Put *quantity* of *item* in.
    def total(self) -> Decimal  # Sum of the prices of everything in the basket.
  def empty_basket(owner: str) -> Basket  # A new basket with nothing in it.
  tested in: tests/test_basket.py"""
_EXAMPLE_NOTES = """[location] `Basket` is defined in `src/shop/basket.py` (module `shop.basket`).
[api] `Basket.add` takes `item` and `quantity` (default 1) and returns nothing.
[api] `Basket.total` returns a `Decimal`: the sum of the prices in the basket.
[location] `empty_basket` is defined in `src/shop/basket.py`; it takes `owner` and returns a new `Basket`.
[testing] `tests/test_basket.py` tests `src/shop/basket.py`."""


def module_messages(repo_name: str, module_outline: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content=_system(repo_name)),
        ChatMessage(role="user", content=module_prompt("shop", _EXAMPLE_OUTLINE)),
        ChatMessage(role="assistant", content=_EXAMPLE_NOTES),
        ChatMessage(role="user", content=module_prompt(repo_name, module_outline)),
    ]


def notes_from_repo(
    lm: LLMBackend,
    repo_root: Path,
    index: SymbolIndex,
    *,
    max_files: int | None = None,
    seed: int = 0,
    progress=None,
) -> NotesResult:
    """Notes about each source module (most definitions first; `max_files` caps them)."""
    started = time.perf_counter()
    name = repo_display_name(repo_root)
    grounder = _grounder(index)
    tests = test_files_by_module(index)
    result = NotesResult()
    deduper = Deduper()
    paths = source_modules(index)[:max_files] if max_files else source_modules(index)
    for position, path in enumerate(paths):
        text = outline(index, path, tests.get(path)).text
        reply = _generate(lm, module_messages(name, text), seed + position)
        _read(result, reply, grounder, deduper, per_kind=MODULE_PER_KIND, source="repo",
              examples=_EXAMPLE_NOTES)  # fmt: skip
        if progress is not None:
            progress(position + 1, len(paths), path)
    result.seconds = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- after a run


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def condense_steps(trajectory: Trajectory, limit: int = 14) -> str:
    """The kept steps as one line each: the action and the first line of what it returned."""
    lines = []
    for step in trajectory.kept_steps:
        if step.action is None:
            continue
        args = ", ".join(f"{k}={_clip(str(v), 60)}" for k, v in step.action.arguments.items())
        obs = step.observation
        outcome = ""
        if obs is not None:
            first = next((ln for ln in obs.text.splitlines() if ln.strip()), "")
            outcome = (" → " if obs.ok else " → FAILED: ") + _clip(first, STEP_CHARS)
        lines.append(f"{len(lines) + 1}. {step.action.name}({args}){outcome}")
    if len(lines) > limit:  # the start (exploration) and the end (the fix, the tests) matter
        half = limit // 2
        lines = [*lines[:half], f"… {len(lines) - limit} steps left out …", *lines[-half:]]
    return "\n".join(lines)


def run_prompt_text(run: str) -> str:
    return (
        f"{run}\n\nWrite up to 6 notes about the repository that would help with the next "
        "task: where things live, how tests are run, conventions, and pitfalls this run "
        f"hit.\n{_KIND_HELP}\n{NOTE_FORMAT}"
    )


def run_prompt(trajectory: Trajectory) -> str:
    diff = trajectory.final_diff
    if len(diff) > DIFF_CHARS:
        diff = diff[:DIFF_CHARS] + "\n… (diff cut)"
    # A verification command can list dozens of test ids; the start says how tests run.
    tests = _clip(trajectory.verification.command, 240) if trajectory.verification else "?"
    return run_prompt_text(
        f"Task that was solved:\n{_clip(trajectory.task.problem_statement, 700)}\n\n"
        f"Steps taken:\n{condense_steps(trajectory)}\n\n"
        f"Final diff:\n```diff\n{diff}\n```\n\nTests that verified it: `{tests}`"
    )


_EXAMPLE_RUN = """Task that was solved:
`Basket.total` ignores the quantity of each item.

Steps taken:
1. search(pattern=def total) → src/shop/basket.py:18: def total(self) -> Decimal:
2. view(path=src/shop/basket.py) → class Basket:
3. edit(path=src/shop/basket.py) → edited src/shop/basket.py
4. run_tests(tests=tests/test_basket.py) → 6 passed

Final diff:
```diff
-        return sum(item.price for item in self.items)
+        return sum(item.price * item.quantity for item in self.items)
```

Tests that verified it: `pytest -q tests/test_basket.py`"""
_EXAMPLE_RUN_NOTES = """[location] `Basket.total` is defined in `src/shop/basket.py`.
[testing] Run `pytest -q tests/test_basket.py` to test `src/shop/basket.py`.
[pitfall] `Basket.total` must multiply each price by the item's quantity."""


def run_messages(repo_name: str, trajectory: Trajectory) -> list[ChatMessage]:
    """The run prompt after one worked example (a made-up repository; see module_messages)."""
    example = run_prompt_text(_EXAMPLE_RUN)
    return [
        ChatMessage(role="system", content=_system(repo_name)),
        ChatMessage(role="user", content=example),
        ChatMessage(role="assistant", content=_EXAMPLE_RUN_NOTES),
        ChatMessage(role="user", content=run_prompt(trajectory)),
    ]


def notes_from_run(
    lm: LLMBackend, trajectory: Trajectory, repo_root: Path, index: SymbolIndex, *, seed: int = 0
) -> NotesResult:
    """Notes after one run. The caller decides which runs teach (verified ones)."""
    started = time.perf_counter()
    result = NotesResult()
    reply = _generate(lm, run_messages(repo_display_name(repo_root), trajectory), seed)
    _read(result, reply, _grounder(index), Deduper(), per_kind=RUN_PER_KIND, source="agent",
          source_run=trajectory.run_id, examples=_EXAMPLE_RUN_NOTES)  # fmt: skip
    result.seconds = time.perf_counter() - started
    return result


__all__ = [
    "NOTE_KINDS",
    "Note",
    "NoteKind",
    "NotesResult",
    "NotesStore",
    "note_self_edits",
    "notes_for_prompt",
    "notes_from_repo",
    "notes_from_run",
    "qa_from_notes",
    "repo_display_name",
]  # fmt: skip
