"""A repo note: one short claim about a repository, and the result of writing notes.

Kept apart from `memory.notes` (which writes them with a model) so the checking,
storing and QA modules can share the type without importing each other.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from agent.types import Model

NoteKind = Literal["location", "testing", "convention", "pitfall", "api"]
NOTE_KINDS: tuple[NoteKind, ...] = ("location", "testing", "convention", "pitfall", "api")


class Note(Model):
    text: str = Field(description="one claim, one or two sentences")
    kind: NoteKind
    names: list[str] = Field(
        default_factory=list, description="repo names/paths the claim mentions (grounded)"
    )
    source: Literal["agent", "bootstrap", "repo"] = "agent"
    source_run: str | None = None


class NotesResult(Model):
    """What one note-writing pass kept, what it dropped and why.

    `replies` counts model replies read; `malformed` those that yielded no parseable
    claim at all (each loses that reply only) and `bad_lines` the lines inside otherwise
    good replies that were not a claim of a known kind.
    """

    kept: list[Note] = Field(default_factory=list)
    dropped: list[tuple[Note, str]] = Field(default_factory=list)
    replies: int = 0
    malformed: int = 0
    bad_lines: int = 0
    seconds: float = 0.0

    def drop_reasons(self) -> dict[str, int]:
        """How many notes each kind of reason dropped (the reason's text up to a colon)."""
        counts: dict[str, int] = {}
        for _, why in self.dropped:
            key = why.split(":", 1)[0]
            counts[key] = counts.get(key, 0) + 1
        return counts
