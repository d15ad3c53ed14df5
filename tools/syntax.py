"""Does a file still parse? Checked before edit/create write anything.

Python is compiled (never executed) on the host, so the check costs no sandbox round
trip. The host's Python may be older than the repository's: a file that did not
parse before an edit is not held against the edit (the error may be syntax the host
does not know, or a pre-existing one the model is fixing), so only an edit that
*breaks* a parsing file is refused. JSON and TOML are checked too, as warnings only.
"""

from __future__ import annotations

import json
import tomllib
import warnings
from dataclasses import dataclass

from tools.text import clip_line, number_width


@dataclass(frozen=True)
class ParseProblem:
    line: int | None
    message: str

    def where(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def is_python(path: str, content: str) -> bool:
    if path.endswith((".py", ".pyi")):
        return True
    first = content.split("\n", 1)[0]
    return first.startswith("#!") and "python" in first


def python_problem(source: str, path: str = "<edit>") -> ParseProblem | None:
    with warnings.catch_warnings():
        # Invalid escape sequences and the like warn at compile time; not our concern.
        warnings.simplefilter("ignore")
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            message = exc.msg or "invalid syntax"
            return ParseProblem(exc.lineno, f"{type(exc).__name__}: {message}")
        except ValueError as exc:  # null bytes
            return ParseProblem(None, str(exc))
    return None


def data_problem(path: str, content: str) -> ParseProblem | None:
    """JSON / TOML parse errors (callers warn; they do not refuse)."""
    if path.endswith(".json"):
        try:
            json.loads(content)
        except json.JSONDecodeError as exc:
            return ParseProblem(exc.lineno, f"invalid JSON: {exc.msg}")
    elif path.endswith(".toml"):
        try:
            tomllib.loads(content)
        except tomllib.TOMLDecodeError as exc:
            return ParseProblem(getattr(exc, "lineno", None), f"invalid TOML: {exc}")
    return None


def excerpt(content: str, line: int | None, around: int = 2) -> str:
    """The lines around `line`, numbered, with the line itself marked by `>`."""
    lines = content.split("\n")
    if not line or not lines:
        return ""
    line = min(max(1, line), len(lines))
    first = max(1, line - around)
    last = min(len(lines), line + around)
    width = number_width(last)
    out = []
    for number in range(first, last + 1):
        mark = ">" if number == line else " "
        out.append(f"{mark}{number:>{width}}| {clip_line(lines[number - 1])}")
    return "\n".join(out)
