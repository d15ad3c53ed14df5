"""Where does the text an edit wants to replace occur in a file?

Exact occurrences first (overlapping ones counted, so "ambiguous" is never missed).
When there is none, two mistakes small models make all the time are forgiven, and
only when they leave exactly one candidate: lines copied with our `  42| ` number
prefixes, and whole lines whose indentation is off by a constant amount or that
differ only in trailing spaces. In the indentation case the replacement is shifted
by the same amount. Everything else is "not found", with the closest region shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.text import strip_line_numbers


@dataclass(frozen=True)
class Span:
    start: int  # character offsets into the text, end exclusive
    end: int
    new: str  # the replacement to put there (re-indented where needed)
    how: str = ""  # empty for an exact match; else what was forgiven


@dataclass(frozen=True)
class Located:
    spans: list[Span]
    how: str = ""

    @property
    def unique(self) -> Span | None:
        return self.spans[0] if len(self.spans) == 1 else None


def exact_offsets(text: str, old: str) -> list[int]:
    out: list[int] = []
    index = text.find(old)
    while index != -1:
        out.append(index)
        index = text.find(old, index + 1)
    return out


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _line_offsets(lines: list[str]) -> list[int]:
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    return offsets


def _shift(old_lines: list[str], file_lines: list[str]) -> tuple[str, str] | None:
    """('add', D) / ('remove', D) when every non-blank file line's indentation is the old
    line's plus (minus) the same prefix D; None when the shift is not uniform."""
    shift: tuple[str, str] | None = None
    for old, actual in zip(old_lines, file_lines, strict=True):
        if not old.strip():
            continue
        oi, fi = _leading(old), _leading(actual)
        if fi.endswith(oi) and len(fi) >= len(oi):
            candidate = ("add", fi[: len(fi) - len(oi)])
        elif oi.endswith(fi):
            candidate = ("remove", oi[: len(oi) - len(fi)])
        else:
            return None
        if shift is None:
            shift = candidate
        elif candidate != shift:
            return None
    return shift or ("add", "")


def _reindent(new: str, shift: tuple[str, str]) -> str | None:
    kind, prefix = shift
    if not prefix:
        return new
    out = []
    for line in new.split("\n"):
        if not line.strip():
            out.append(line)
        elif kind == "add":
            out.append(prefix + line)
        elif line.startswith(prefix):
            out.append(line[len(prefix) :])
        else:
            return None
    return "\n".join(out)


def _tolerant(text: str, old: str, new: str) -> list[Span]:
    """Whole-line matches ignoring trailing spaces and a uniform indentation shift."""
    old_lines = old.split("\n")
    new_text = new
    if old_lines and old_lines[-1] == "":
        old_lines = old_lines[:-1]
        new_text = new[:-1] if new.endswith("\n") else new
    while old_lines and not old_lines[0].strip():
        old_lines = old_lines[1:]
    while old_lines and not old_lines[-1].strip():
        old_lines = old_lines[:-1]
    if not old_lines:
        return []
    file_lines = text.split("\n")
    offsets = _line_offsets(file_lines)
    wanted = [line.strip() for line in old_lines]
    stripped = [line.strip() for line in file_lines]
    size = len(wanted)
    spans: list[Span] = []
    for start in range(0, len(file_lines) - size + 1):
        if stripped[start : start + size] != wanted:
            continue
        window = file_lines[start : start + size]
        shift = _shift(old_lines, window)
        if shift is None:
            continue
        replacement = _reindent(new_text.strip("\n"), shift)
        if replacement is None:
            continue
        if shift[1]:
            spaces = len(shift[1].expandtabs(4))
            sign = "+" if shift[0] == "add" else "-"
            how = f"indentation adjusted by {sign}{spaces} columns"
        else:
            how = "ignoring whitespace at line ends"
        end = offsets[start + size] - 1
        spans.append(Span(offsets[start], end, replacement, how))
    return spans


def locate(text: str, old: str, new: str) -> Located:
    """All candidate places for `old` in `text`, exact ones if there are any."""
    offsets = exact_offsets(text, old)
    if offsets:
        return Located([Span(i, i + len(old), new) for i in offsets])
    unnumbered = strip_line_numbers(old)
    if unnumbered is not None and unnumbered != old:
        new_unnumbered = strip_line_numbers(new)
        found = locate(text, unnumbered, new if new_unnumbered is None else new_unnumbered)
        if found.spans:
            how = "line-number prefixes removed"
            if found.spans[0].how:
                how += ", " + found.spans[0].how
            return Located(found.spans, how)
    spans = _tolerant(text, old, new)
    return Located(spans, spans[0].how if len(spans) == 1 else "")


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1
