"""Reading, checking and thinning the notes a model writes: parse → ground → dedupe → cap.

Parsing is forgiving about decoration (bullets, numbers, bold, a colon after the kind)
and strict about content: a line is a claim only when it names one of the note kinds.
Grounding uses `tools.grounding`: a claim naming a path or symbol the repository does
not have is dropped with the names as the reason. Precision is the grounder's (it
reports a name missing only when the index shows where it should be), so a claim in a
wrong context can pass; that is the price of never dropping a true note.

Few and good: exact duplicates (normalised text) and near-duplicates (same kind, same
set of repository names) are dropped, and each kind is capped per scope (a module for
notes from the repository, a run for notes after a run). A claim that names nothing in
the repository is dropped too, except for `testing` notes ("run `pytest -q`") whose
commands are often not repository names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, get_args

from memory.note import NOTE_KINDS, Note, NoteKind

if TYPE_CHECKING:  # pragma: no cover
    from tools.grounding import Grounder

MIN_CHARS = 12
MAX_CHARS = 320
MAX_SENTENCES = 3
# Kinds whose claims may stand without naming anything in the repository.
NAMELESS_OK: frozenset[str] = frozenset({"testing"})

_KIND = "|".join(get_args(NoteKind))
_LINE = re.compile(
    rf"^\s*(?:[-*•+]|\d+[.)])?\s*(?:\*\*|__)?\s*[\[(]?\s*({_KIND})\s*[\])]?\s*(?:\*\*|__)?"
    rf"\s*(?:[:\-–—|]\s*)?(?:\*\*|__)?\s*(.*\S)\s*$",
    re.I,
)
# Lines that carry no claim and are not mistakes either: fences, headings, blank lines.
_FILLER = re.compile(r"^\s*(?:```.*|#+.*|(?:here are|notes?)\b.*:|[-=*_]{3,})?\s*$", re.I)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
_CODE_SPAN = re.compile(r"`[^`]*`")
_PROSE_WORD = re.compile(r"(?<![\w./(*:=-])[A-Za-z]{2,}(?![\w./(*:=-])")
MIN_PROSE_WORDS = 3
_CODE_LINE = re.compile(r"\s*(?:(?:async\s+)?(?:def|class)\s|[\w.]+\(.*\)\s*(?:->.*)?$)")
# "X is not defined in Y": the index can confirm what exists, never what does not, and a
# small model writes these mostly by mistake.
_NEGATIVE = re.compile(
    r"\b(?:is|are|was|were)\s+not\s+(?:defined|declared|implemented|present|found|"
    r"available|part)\b|\b(?:does|do)\s*(?:n't|\s+not)\s+(?:exist|define|contain|have)\b",
    re.I,
)


def parse_notes(reply: str) -> tuple[list[tuple[NoteKind, str]], int]:
    """Claims in a model's reply as (kind, text), and how many lines were not claims."""
    claims: list[tuple[NoteKind, str]] = []
    bad = 0
    for line in reply.splitlines():
        match = _LINE.match(line)
        if match:
            text = match.group(2).strip().strip("*_").strip()
            if text:
                claims.append((match.group(1).lower(), text))  # type: ignore[arg-type]
                continue
        if not _FILLER.match(line):
            bad += 1
    return claims, bad


def normalise(text: str) -> str:
    """Lower case, no markup or punctuation, single spaces: the key for exact duplicates."""
    text = text.lower().replace("`", "")
    text = re.sub(r"[^\w/.\s]", " ", text)
    text = re.sub(r"(?<!\w)\.|\.(?!\w)", " ", text)  # sentence dots, not `a.b` or `x.py`
    return " ".join(text.split())


def shape_problem(text: str) -> str | None:
    """Why a claim's text is not a usable note, or None."""
    if len(text) < MIN_CHARS:
        return f"too short: {len(text)} characters"
    if len(text) > MAX_CHARS:
        return f"too long: {len(text)} characters (a note is one or two sentences)"
    if len(_SENTENCE_END.findall(text)) > MAX_SENTENCES:
        return "too long: more than three sentences"
    if "```" in text:
        return "code block: a note is a claim, not code"
    prose = _PROSE_WORD.findall(_CODE_SPAN.sub(" ", text))
    if len(prose) < MIN_PROSE_WORDS or _CODE_LINE.match(text):
        return "not a sentence: a bare name or a line of code is not a claim"
    located = _SELF_LOCATED.match(text)
    if located and located.group(1).lower() == located.group(2).lower():
        return "tautology: a thing defined in itself"
    if _NEGATIVE.search(text):
        return "negative claim: the index can confirm what exists, not what does not"
    return None


ECHO_NGRAM = 5


def _ngrams(text: str, n: int = ECHO_NGRAM) -> set[tuple[str, ...]]:
    words = normalise(text).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def echo_problem(text: str, examples: Iterable[str]) -> str | None:
    """A claim sharing five words in a row (code names included) with a worked example the
    prompt showed was copied from it, not learned from the repository."""
    mine = _ngrams(text)
    for example in examples:
        if mine & _ngrams(example):
            return f"copied from the prompt's example: {example!r}"
    return None


_SELF_LOCATED = re.compile(r"^\W*([\w./]+)\W*\s+is\s+defined\s+in\s+\W*([\w./]+?)\W*$", re.I)


def ground_note(note: Note, grounder: Grounder) -> tuple[Note | None, str | None]:
    """The note with its grounded names filled in, or None and why it was dropped."""
    result = grounder.check(note.text)
    if result.missing:
        names = ", ".join(f"`{c.name}` ({c.kind})" for c in result.missing)
        return None, f"ungrounded: names {names} that the repository does not have"
    # "X in Y" labels (the grounder's located checks) are not names; X and Y are checked
    # on their own too. "(used in the repository)" is a word, not a definition.
    names = sorted(
        {c.name for c in result.checks
         if c.exists and " in " not in c.name and not (c.resolved_to or "").startswith("(")}
    )  # fmt: skip
    if not names and note.kind not in NAMELESS_OK:
        return None, "names nothing in the repository: too vague to teach anything"
    return note.model_copy(update={"names": names}), None


def near_key(note: Note) -> tuple[str, frozenset[str]] | None:
    """Two notes of one kind about the same set of names say nearly the same thing."""
    return (note.kind, frozenset(note.names)) if note.names else None


class Deduper:
    """Remembers what it has let through (optionally seeded with notes kept earlier)."""

    def __init__(self, seen: Iterable[Note] = ()):
        self.texts: dict[str, Note] = {}
        self.near: dict[tuple[str, frozenset[str]], Note] = {}
        for note in seen:
            self.admit(note)

    def reason(self, note: Note) -> str | None:
        earlier = self.texts.get(normalise(note.text))
        if earlier is not None:
            return f"duplicate: same text as {earlier.text!r}"
        key = near_key(note)
        if key is not None and key in self.near:
            return f"near-duplicate: same kind and names as {self.near[key].text!r}"
        return None

    def admit(self, note: Note) -> None:
        self.texts.setdefault(normalise(note.text), note)
        key = near_key(note)
        if key is not None:
            self.near.setdefault(key, note)


def check_claims(
    claims: list[tuple[NoteKind, str]],
    grounder: Grounder,
    deduper: Deduper,
    *,
    per_kind: int,
    source: str,
    source_run: str | None = None,
    examples: Iterable[str] = (),
) -> tuple[list[Note], list[tuple[Note, str]]]:
    """Shape, echoes of the prompt's example, grounding, duplicates, then the per-kind cap,
    in the order the claims came."""
    examples = list(examples)
    kept: list[Note] = []
    dropped: list[tuple[Note, str]] = []
    counts = dict.fromkeys(NOTE_KINDS, 0)
    for kind, text in claims:
        note = Note(text=text, kind=kind, source=source, source_run=source_run)  # type: ignore[arg-type]
        why = shape_problem(text) or echo_problem(text, examples)
        if why is None:
            grounded, why = ground_note(note, grounder)
            note = grounded or note
        if why is None:
            why = deduper.reason(note)
        if why is None and counts[kind] >= per_kind:
            why = f"over the cap: {per_kind} {kind} notes already kept here"
        if why is not None:
            dropped.append((note, why))
            continue
        counts[kind] += 1
        deduper.admit(note)
        kept.append(note)
    return kept, dropped
