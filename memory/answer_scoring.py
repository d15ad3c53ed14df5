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
- `parameters`: score = the share of the parameter names that appear as whole tokens;
  correct only when all do (order is not checked).
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


def score_answer(question: RepoQuestion, answer: str) -> float:
    """1.0 right, 0.0 wrong; `parameters` may score in between (see the module docstring)."""
    text = _clean(answer)
    tokens = _tokens(text)
    accept = set(question.accept)
    if question.kind in ("defined_in", "tested_by"):
        paths = [t for t in tokens if _PATHLIKE.search(t)]
        return 1.0 if paths and paths[0] in accept else 0.0
    if question.kind == "parameters":
        names = question.accept[1:] or question.answer.split(", ")
        present = set(tokens) | {t for tok in tokens for t in tok.split(".")}
        return sum(1 for name in names if name in present) / len(names)
    if question.kind == "returns":
        want = re.sub(r"\s+", "", question.answer)
        if re.fullmatch(r"[\w.]+", want):
            return 1.0 if want in tokens else 0.0
        return 1.0 if want in re.sub(r"\s+", "", text) else 0.0
    return 1.0 if any(t in accept for t in tokens) else 0.0


def is_correct(question: RepoQuestion, answer: str) -> bool:
    return score_answer(question, answer) >= 1.0
