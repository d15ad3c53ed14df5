"""Tool examples drawn from the run's own repository.

A small model copies the examples in its prompt. The tools' built-in examples come
from the bundled sample project (`src/ledger/money.py`); on toolz, 9 of the 255 views
in the free-form runs asked for `src/ledger/…` files that toolz does not have
(docs/policies.md). So a run's toolbox shows the same examples with this repository's
own names: a real module and the line of a real function to view, its real tests
folder and file, an edit of a real `def` line, a test file that imports a real
function. Every example stays concrete (no placeholders) and would run.

Nothing here reads the task, only the repository's files, and no example changes
behaviour: on a bench task the tree holds the bug, and an example edit of code could by
chance be that task's fix.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from tools.testpaths import is_mutable_source
from tools.types import ToolSpec

if TYPE_CHECKING:  # the registry imports this module; the index is heavier
    from tools.index import SymbolIndex
    from tools.symbols import Definition

# Names nothing in the repository, so it cannot point at a wrong file or function.
_SUBMIT = "The comparison was reversed; it is fixed now and the failing test passes."


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolExamples(_Model):
    """Argument sets per tool, parameter descriptions that name files, and the sample
    reply shown after the tool list."""

    by_tool: dict[str, list[dict[str, Any]]]
    descriptions: dict[str, dict[str, str]] = {}
    """tool → parameter → description, for descriptions that give an example path."""
    topic: str
    """What the sample reply's task is about: `a task about merge_sorted`."""
    thought: str
    """The sample reply's sentence before its view action."""


def _source_files(index: SymbolIndex) -> list[str]:
    """Public modules first (`itertoolz.py` before `_signatures.py`), the ones with the
    most public functions first among them: the repository's main code."""
    found = [path for path in index.entries if is_mutable_source(path)]
    return sorted(found, key=lambda p: (posixpath.basename(p).startswith("_"),
                                        -len(_functions(index, p)), p))  # fmt: skip


def _functions(index: SymbolIndex, path: str) -> list[Definition]:
    return [
        d
        for d in index.definitions(path)
        if d.kind in ("function", "method") and not d.short.startswith("_")
        and d.end_line > d.line
    ]  # fmt: skip


def _tests_dir(index: SymbolIndex) -> str | None:
    counts: dict[str, int] = {}
    for path in index.entries:
        if posixpath.basename(path).startswith("test_") and path.endswith(".py"):
            folder = posixpath.dirname(path)
            if folder:
                counts[folder] = counts.get(folder, 0) + 1
    if not counts:
        return None
    # The folder with the most test files; the shorter path on a tie (`tests` before
    # `tests/unit`), then the name.
    return min(counts, key=lambda folder: (-counts[folder], len(folder), folder))


def _test_file(index: SymbolIndex, tests: str, stem: str) -> str | None:
    """The module's own test file (`tests/test_money.py`), else the folder's first."""
    own = posixpath.join(tests, f"test_{stem}.py")
    if own in index.entries:
        return own
    files = sorted(p for p in index.entries if posixpath.dirname(p) == tests
                   and posixpath.basename(p).startswith("test_"))  # fmt: skip
    return files[0] if files else None


def _first_test(index: SymbolIndex, test_file: str) -> str | None:
    names = [d.short for d in index.definitions(test_file)
             if d.kind in ("function", "method") and d.short.startswith("test")]  # fmt: skip
    return names[0] if names else None


def _def_line(text: str, fn: Definition) -> str | None:
    """The function's `def` line, when it is one line that occurs once in the file."""
    lines = text.splitlines()
    for number in range(fn.line, min(fn.end_line, len(lines)) + 1):
        line = lines[number - 1]
        if line.lstrip().startswith(("def ", "async def ")):
            ok = line.rstrip().endswith(":") and text.count(line) == 1
            return line if ok else None
    return None


def repo_examples(index: SymbolIndex) -> ToolExamples | None:
    """Examples with this repository's names, or None when it has no Python module with
    a public function to view and edit, or no tests folder (the built-in examples stay)."""
    tests = _tests_dir(index)
    if tests is None:
        return None
    for path in _source_files(index):
        functions = _functions(index, path)
        if not functions:
            continue
        try:
            text = (index.root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = next(((fn, line) for fn in functions
                      if (line := _def_line(text, fn)) is not None), None)  # fmt: skip
        module = index.module_of(path)
        if found is None or not module:
            continue
        fn, def_line = found
        stem = posixpath.splitext(posixpath.basename(path))[0]
        test_file = _test_file(index, tests, stem)
        if test_file is None:
            continue
        indent = def_line[: len(def_line) - len(def_line.lstrip())]
        test_id = _first_test(index, test_file)
        by_tool: dict[str, list[dict[str, Any]]] = {
            "view": [{"path": path, "start": fn.line}, {"path": tests}],
            "search": [{"pattern": f"def {fn.short}"}],
            # An edit that changes no behaviour (see the module's docstring).
            "edit": [{"path": path, "old": def_line,
                      "new": f"{indent}# {fn.short} is part of {module}'s public API.\n{def_line}"}],
            "bash": [{"command": f"python -m pytest -q {test_file}"}, {"command": "git diff"}],
            "run_tests": [{"tests": test_file}, {}],
            "submit": [{"message": _SUBMIT}],
        }  # fmt: skip
        top = fn.name.split(".", 1)[0]
        slug = fn.name.lower().replace(".", "_")
        by_tool["create"] = [{
            "path": posixpath.join(tests, f"test_{stem.lstrip('_')}_{slug}_exists.py"),
            "content": f"from {module} import {top}\n\n\ndef test_{slug}_exists():\n"
                       f"    assert callable({fn.name})\n",
        }]  # fmt: skip
        one_test = f"{test_file}::{test_id}" if test_id else test_file
        described = f"test files or ids, such as {one_test} (default: all)"
        return ToolExamples(
            by_tool=by_tool,
            descriptions={"run_tests": {"tests": described}},
            topic=f"a task about {fn.short}",
            thought=f"I will read {fn.name} first.",
        )
    return None


def with_examples(specs: list[ToolSpec], examples: ToolExamples | None) -> list[ToolSpec]:
    """`specs` with the examples and described paths of `examples` where it has some."""
    if examples is None:
        return specs
    out = []
    for spec in specs:
        update: dict[str, Any] = {}
        if examples.by_tool.get(spec.name):
            update["examples"] = examples.by_tool[spec.name]
        described = examples.descriptions.get(spec.name, {})
        if described:
            update["params"] = [
                p.model_copy(update={"description": described[p.name]}) if p.name in described
                else p
                for p in spec.params
            ]  # fmt: skip
        out.append(spec.model_copy(update=update) if update else spec)
    return out
