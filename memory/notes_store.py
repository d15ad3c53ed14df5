"""Where a repository's kept notes live, and how they reach a prompt.

`ENGRAM_HOME/repos/<repo-id>/notes.json`: `{"format_version": 1, "notes": [...]}`.
Writes replace the file atomically (temporary file, fsync, rename) under the folder's
`notes.lock` (flock), so a crash leaves the old list or the new one, never half of
either, and two writers cannot lose each other's notes. Reads take no lock.
"""

from __future__ import annotations

import json
from pathlib import Path

from agent import atomic
from agent.home import Home
from memory.note import NOTE_KINDS, Note
from memory.note_check import Deduper
from memory.repo_lock import exclusive

NOTES_FORMAT = 1
PROMPT_HEADER = "Notes about this repository (from earlier work; every name in them was checked):"


class NotesStoreError(RuntimeError):
    user_facing = True


class NotesStore:
    def __init__(self, home: Home):
        self.home = home

    def path(self, repo_id: str) -> Path:
        return self.home.repo_dir(repo_id) / "notes.json"

    def load(self, repo_id: str) -> list[Note]:
        path = self.path(repo_id)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(raw)
            version = data.get("format_version")
            if version != NOTES_FORMAT:
                raise NotesStoreError(
                    f"{path} has format_version {version!r}; this engram reads "
                    f"{NOTES_FORMAT}. Upgrade engram, or move the file away to start over."
                )
            return [Note.model_validate(n) for n in data.get("notes", [])]
        except (ValueError, AttributeError) as exc:
            raise NotesStoreError(
                f"{path} is not a notes file engram can read ({exc}); move it away to start over"
            ) from exc

    def add(self, repo_id: str, notes: list[Note]) -> list[Note]:
        """Append the notes not already known (same text or near-duplicate); returns them."""
        path = self.path(repo_id)
        with exclusive(path.parent / "notes.lock"):
            existing = self.load(repo_id)
            deduper = Deduper(existing)
            new: list[Note] = []
            for note in notes:
                if deduper.reason(note) is None:
                    deduper.admit(note)
                    new.append(note)
            if new:
                payload = {
                    "format_version": NOTES_FORMAT,
                    "notes": [n.model_dump(mode="json") for n in [*existing, *new]],
                }
                atomic.write_text(path, json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
            return new


def render_notes(notes: list[Note], max_chars: int = 1500) -> str | None:
    """Whole lines, kinds taken in turn (location, testing, convention, pitfall, api) so a
    tight budget still shows each kind; within a kind, oldest first."""
    by_kind = {kind: [n for n in notes if n.kind == kind] for kind in NOTE_KINDS}
    order: list[Note] = []
    depth = 0
    while any(depth < len(v) for v in by_kind.values()):
        order.extend(v[depth] for v in by_kind.values() if depth < len(v))
        depth += 1
    lines = [PROMPT_HEADER]
    used = len(PROMPT_HEADER)
    for note in order:
        line = f"- {note.text}"
        if used + 1 + len(line) > max_chars:
            continue  # a shorter one later may still fit
        lines.append(line)
        used += 1 + len(line)
    return "\n".join(lines) if len(lines) > 1 else None


def notes_for_prompt(home: Home, repo_id: str, max_chars: int = 1500) -> str | None:
    """The repo's notes as prompt text of at most `max_chars`, or None when it has none."""
    return render_notes(NotesStore(home).load(repo_id), max_chars)
