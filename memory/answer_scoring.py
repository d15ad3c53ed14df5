"""Scoring a short closed-book answer against a repo question's accepted forms.

What counts (first 300 characters of the answer; backticks, quotes and a trailing
`:line` are ignored; comparisons are case-sensitive for names, as Python is):

- `defined_in`, `tested_by` (a file): the *first* path-like token of the answer (one
  with a `/`, a `.py` ending, or dots between names) must be one of the accepted forms
  — the path, the path without `src/`, the dotted module, or the bare file name when it
  is unique in the repository. Naming the right file second, after a wrong one, is
  wrong (no credit for hedging). With no path-like token, it is wrong.
- `method_of`, `base_class` (a name): one of the accepted forms appears as a whole token
  (`Money` or `Money.parse`; `Money` inside `MoneyBag` does not count).
- `parameters`: the answer's first line is read as a list (split at commas, semicolons
  and "and"; inside the parentheses when it is written as a call `f(a, b)`); each item
  gives its first name (`*args` → `args`, `x: int = 1` → `x`). Score = F1 between those
  names and the parameters; correct only when the two sets are equal — listing extra
  names is as wrong as leaving one out (order is not checked).
- `returns`: the annotation appears in the answer with spaces removed (`dict[str, int]`
  = `dict[str,int]`), as a whole token where it is a plain name.
"""

from __future__ import annotations

import re

from memory.repo_questions import RepoQuestion

MAX_ANSWER_CHARS = 300
_TOKEN = re.compile(r"[\w./-]+")
_PATHLIKE = re.compile(r"/|\.pyi?$|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")


def _clean(answer: str) -> str:
    text = answer[:MAX_ANSWER_CHARS].replace("`", " ").replace('"', " ").replace("'", " ")
    return re.sub(r":\d+\b", "", text)


def _tokens(text: str) -> list[str]:
    out = []
    for token in _TOKEN.findall(text):
        token = token.strip(".-/")
        while token.startswith("./"):
            token = token[2:]
        for mount in ("workspace/", "testbed/"):
            token = token.removeprefix(mount)
        if token:
            out.append(token)
    return out


_ITEM_SPLIT = re.compile(r",|;|\band\b|\bor\b")
_NAME = re.compile(r"[A-Za-z_]\w*")


def listed_names(answer: str) -> list[str]:
    """The names a list-shaped answer gives, in order (see `parameters` above)."""
    line = next((ln for ln in answer[:MAX_ANSWER_CHARS].splitlines() if ln.strip()), "")
    call = re.search(r"\w\s*\(([^()]*)\)", line)
    if call:
        line = call.group(1)
    out = []
    for item in _ITEM_SPLIT.split(line.replace("`", " ").replace("*", " ")):
        match = _NAME.search(item.split("=")[0].split(":")[0])
        if match:
            out.append(match.group(0))
    return out


def score_answer(question: RepoQuestion, answer: str) -> float:
    """1.0 right, 0.0 wrong; `parameters` may score in between (see the module docstring)."""
    text = _clean(answer)
    tokens = _tokens(text)
    accept = set(question.accept)
    if question.kind in ("defined_in", "tested_by"):
        paths = [t for t in tokens if _PATHLIKE.search(t)]
        return 1.0 if paths and paths[0] in accept else 0.0
    if question.kind == "parameters":
        names = set(question.accept[1:] or question.answer.split(", "))
        said = set(listed_names(answer))
        if not said:
            return 0.0
        hits = len(names & said)
        return 2 * hits / (len(names) + len(said))
    if question.kind == "returns":
        want = re.sub(r"\s+", "", question.answer)
        if re.fullmatch(r"[\w.]+", want):
            return 1.0 if want in tokens else 0.0
        return 1.0 if want in re.sub(r"\s+", "", text) else 0.0
    return 1.0 if any(t in accept for t in tokens) else 0.0


def is_correct(question: RepoQuestion, answer: str) -> bool:
    return score_answer(question, answer) >= 1.0
