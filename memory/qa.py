"""Question–answer pairs from kept notes, and notes + QA as training self-edits.

`qa_from_notes`: per note the model writes one question the note answers and a short
answer. A pair is kept only when its answer is supported by its note: every code-like
token of the answer (a path, a dotted or snake_case name, a CamelCase name, anything in
backticks) appears in the note — the note was grounded against the repository, so an
answer naming something the note does not is an ungrounded name — and the answer shares
at least one content word with the note. Pairs are deduplicated by normalised question.

`note_self_edits` renders notes (grouped by topic) and QA pairs as chat examples under
one fixed system prompt naming the repository (`knowledge_system_prompt`, which the repo
evaluation uses too, so training and testing see the same framing). Ids are content
hashes, so the same self-edit made twice is one self-edit.
"""

from __future__ import annotations

import re

from agent.backends.base import GenerationOptions, LLMBackend
from agent.types import (
    ChatMessage,
    GroundingResult,
    NameCheck,
    SelfEdit,
    SelfEditKind,
    content_hash,
)
from memory.note import Note
from memory.note_check import normalise

MAX_ANSWER_CHARS = 200
MAX_NOTES_PER_TOPIC = 6
_QA = re.compile(r"Q(?:uestion)?\s*[:.]\s*(.+?)\s*\n+\s*A(?:nswer)?\s*[:.]\s*(.+)", re.I | re.S)
_CODE_TOKEN = re.compile(
    r"`([^`]+)`|((?:[\w.-]+/)+[\w.-]+|\b\w+\.py\b|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b"
    r"|\b[a-z]\w*_\w+\b|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+\b)"
)
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "in",
        "to",
        "is",
        "are",
        "and",
        "or",
        "for",
        "on",
        "by",
        "with",
        "it",
        "its",
        "this",
        "that",
        "from",
        "as",
        "be",
        "at",
        "which",
        "what",
        "where",
        "how",
        "does",
        "do",
        "file",
        "module",
        "function",
        "class",
        "method",
    ]
)


def repo_label(repo_id: str) -> str:
    """A readable name for the repository: the id's slug, unless it is the generic one."""
    slug, _, digest = repo_id.rpartition("-")
    return slug if slug and slug != "repo" and digest else repo_id


def knowledge_system_prompt(repo_id: str) -> str:
    return (
        f"You know the code repository `{repo_label(repo_id)}` well: its files, classes, "
        "functions and tests. Answer questions about it briefly and precisely."
    )


def _code_tokens(text: str) -> set[str]:
    out = set()
    for match in _CODE_TOKEN.finditer(text):
        token = (match.group(1) or match.group(2)).strip().strip(".,;:()")
        token = re.sub(r"\(.*\)$", "", token)
        if token:
            out.add(token)
    return out


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9_]+", text.lower()) if len(w) > 2 and w not in _STOP}


def parse_qa(reply: str) -> tuple[str, str] | None:
    match = _QA.search(reply)
    if match is None:
        return None
    question = " ".join(match.group(1).split())
    answer = match.group(2).strip().split("\n")[0].strip()
    answer = re.sub(r"^\*+|\*+$", "", answer).strip()
    if not question or not answer:
        return None
    return question, answer


def support_problem(note: Note, question: str, answer: str) -> str | None:
    """Why the pair is not supported by its note, or None."""
    if len(answer) > MAX_ANSWER_CHARS:
        return "answer too long"
    if normalise(question) == normalise(answer) or normalise(question) == normalise(note.text):
        return "question repeats the note or the answer"
    note_text = note.text.replace("`", "")
    missing = sorted(t for t in _code_tokens(answer) if t.replace("`", "") not in note_text)
    if missing:
        return f"ungrounded: the answer names {', '.join(missing)}, which its note does not"
    if not _words(answer) & _words(note.text):
        return "unsupported: the answer shares no words with its note"
    return None


# Two worked examples (a made-up repository, so nothing leaks into a real one's training
# data): a 0.5B model asked cold writes trivia ("what is 2+2?"); shown the shape, it asks
# about the code the note names.
_SHOTS = (
    (
        "`Basket` is defined in `src/shop/basket.py`; its `total` method returns a `Decimal`.",
        "Q: Where does the `Basket` class live?\nA: `src/shop/basket.py`",
    ),
    (
        "`apply_discount` takes `price` and `percent` and is tested in `tests/test_pricing.py`.",
        "Q: Which arguments does `apply_discount` expect?\nA: `price` and `percent`",
    ),
)
_ASK = (
    "Note: {note}\n\nWrite one question about the code this note names, and the short "
    "answer taken from the note. Reply in exactly this form:\nQ: <question>\nA: <answer>"
)


def qa_prompt(note: Note) -> list[ChatMessage]:
    messages = [ChatMessage(role="system", content="You turn notes about a code repository "
                            "into quiz questions with short answers.")]  # fmt: skip
    for shot_note, shot_reply in _SHOTS:
        messages.append(ChatMessage(role="user", content=_ASK.format(note=shot_note)))
        messages.append(ChatMessage(role="assistant", content=shot_reply))
    messages.append(ChatMessage(role="user", content=_ASK.format(note=note.text)))
    return messages


def qa_from_notes(lm: LLMBackend, notes: list[Note], *, seed: int = 0) -> list[tuple[str, str]]:
    """One supported pair per note at most, in note order; unsupported pairs are dropped."""
    pairs: list[tuple[str, str]] = []
    seen: set[str] = set()
    for position, note in enumerate(notes):
        options = GenerationOptions(temperature=0.0, max_new_tokens=96, seed=seed + position)
        parsed = parse_qa(lm.generate(qa_prompt(note), options=options).text)
        if parsed is None:
            continue
        question, answer = parsed
        if support_problem(note, question, answer) is not None:
            continue
        key = normalise(question)
        if key in seen:
            continue
        seen.add(key)
        pairs.append((question, answer))
    return pairs


def _is_path(name: str) -> bool:
    return "/" in name or name.endswith(".py")


def _topic(note: Note) -> str | None:
    """What a note is about: the code name it mentions first, else its first path. A
    symbol, not its file, is the cue a question about the repository gives."""

    def first(names: list[str]) -> str | None:
        # Earliest first; at one position the longest (`Money.parse`, not `Money`).
        placed = [(note.text.find(n), -len(n), n) for n in names if n in note.text]
        return min(placed)[2] if placed else (names[0] if names else None)

    return first([n for n in note.names if not _is_path(n)]) or first(note.names)


def _grounding(names: list[str]) -> GroundingResult:
    return GroundingResult(checks=[
        NameCheck(name=n, kind="path" if _is_path(n) else "symbol", exists=True)
        for n in names
    ])  # fmt: skip


def _edit(repo_id: str, kind: SelfEditKind, user: str, assistant: str,
          names: list[str], source_run: str | None) -> SelfEdit:  # fmt: skip
    messages = [
        ChatMessage(role="system", content=knowledge_system_prompt(repo_id)),
        ChatMessage(role="user", content=user),
        ChatMessage(role="assistant", content=assistant),
    ]
    ident = content_hash({"repo": repo_id, "kind": kind.value,
                          "messages": [m.model_dump(mode="json") for m in messages]})  # fmt: skip
    return SelfEdit(id=ident, repo_id=repo_id, kind=kind, messages=messages,
                    source_run=source_run, grounding=_grounding(names))  # fmt: skip


def note_self_edits(repo_id: str, notes: list[Note], qa: list[tuple[str, str]]) -> list[SelfEdit]:
    """REPO_NOTE edits (the notes on one topic — the code name a note mentions first, else
    its path — as one answer to "what should I know about it") and one QA edit per pair."""
    topics: dict[str, list[Note]] = {}
    for note in notes:
        topics.setdefault(_topic(note) or f"({note.kind})", []).append(note)
    edits: list[SelfEdit] = []
    for topic, group in topics.items():
        for start in range(0, len(group), MAX_NOTES_PER_TOPIC):
            chunk = group[start : start + MAX_NOTES_PER_TOPIC]
            user = (f"What should I know about `{topic}` in this repository?"
                    if not topic.startswith("(") else
                    f"What should I know about {topic[1:-1]} in this repository?")  # fmt: skip
            runs = {n.source_run for n in chunk}
            names = sorted({name for n in chunk for name in n.names})
            edits.append(_edit(repo_id, SelfEditKind.REPO_NOTE, user,
                               "\n".join(f"- {n.text}" for n in chunk), names,
                               runs.pop() if len(runs) == 1 else None))  # fmt: skip
    for question, answer in qa:
        edits.append(_edit(repo_id, SelfEditKind.QA, question, answer, [], None))
    unique: dict[str, SelfEdit] = {}
    for edit in edits:
        unique.setdefault(edit.id, edit)
    return list(unique.values())
