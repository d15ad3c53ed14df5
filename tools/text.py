"""Text shaping shared by the tools: numbered windows, cuts that say what they cut, and
the closest region of a file to a text a model thought it contained.

Everything here is about keeping observations short and copyable for small models:
line numbers are a fixed, easily stripped prefix (`  42| `), long lines are cut at
the end with the cut stated, and a cut block says how to see the rest.
"""

from __future__ import annotations

import difflib
import re

MAX_LINE_CHARS = 240
_NUMBER_PREFIX = re.compile(r"^\s*>?\s*\d+\| ?")


def clip_line(line: str, limit: int = MAX_LINE_CHARS) -> str:
    if len(line) <= limit:
        return line
    return f"{line[:limit]}… [+{len(line) - limit} chars]"


def number_width(last_line: int) -> int:
    return max(4, len(str(last_line)))


def numbered(lines: list[str], first: int, width: int | None = None) -> str:
    """`lines` prefixed with their 1-based numbers, starting at `first`."""
    width = width or number_width(first + len(lines) - 1)
    return "\n".join(f"{first + i:>{width}}| {clip_line(line)}" for i, line in enumerate(lines))


def strip_line_numbers(text: str) -> str | None:
    """`text` without our `  42| ` prefixes, if every non-empty line has one; else None.

    Models copy lines from a view observation into an edit, prefixes included.
    """
    lines = text.split("\n")
    if not any(lines) or not all(_NUMBER_PREFIX.match(line) for line in lines if line):
        return None
    return "\n".join(_NUMBER_PREFIX.sub("", line, count=1) for line in lines)


def cut_middle(text: str, limit: int, hint: str = "") -> tuple[str, bool]:
    """Keep the head (a third) and the tail (two thirds): errors sit at the end."""
    if len(text) <= limit:
        return text, False
    note = f"\n[… {{n}} characters cut{'; ' + hint if hint else ''} …]\n"
    room = max(0, limit - len(note) - 8)
    head = text[: room // 3]
    tail = text[len(text) - (room - len(head)) :] if room > len(head) else ""
    cut = len(text) - len(head) - len(tail)
    return head + note.format(n=cut) + tail, True


def cut_tail(text: str, limit: int, hint: str = "") -> tuple[str, bool]:
    """Keep the beginning, cut at a line boundary where possible."""
    if len(text) <= limit:
        return text, False
    head = text[:limit]
    newline = head.rfind("\n")
    if newline > limit // 2:
        head = head[:newline]
    cut = len(text) - len(head)
    return f"{head}\n[… {cut} more characters not shown{'; ' + hint if hint else ''}]", True


def last_lines(text: str, count: int) -> str:
    lines = text.rstrip("\n").split("\n")
    return "\n".join(lines[-count:])


_WORD = re.compile(r"\w+")
_CANDIDATES = 40


def closest_region(haystack: list[str], needle: list[str]) -> tuple[int, int, float] | None:
    """The window of `haystack` most similar to `needle`: (start, end, ratio), 0-based,
    end exclusive. None for an empty haystack.

    Compares stripped lines so indentation errors do not hide the right region; windows
    of the needle's length and ±1 are tried, since models often drop or add a line.
    Windows are first ranked by the words they share with the needle, and only the
    best few are compared character by character, which keeps large files fast.
    """
    if not haystack or not needle:
        return None
    target = "\n".join(line.strip() for line in needle)
    stripped = [line.strip() for line in haystack]
    wanted = set(_WORD.findall(target))
    words = [set(_WORD.findall(line)) for line in stripped]
    sizes = sorted({max(1, len(needle) + d) for d in (0, -1, 1)})
    windows: list[tuple[float, int, int]] = []
    for size in sizes:
        for start in range(0, max(1, len(haystack) - size + 1)):
            shared = set().union(*words[start : start + size]) & wanted
            windows.append((len(shared) / max(1, len(wanted)), start, size))
    windows.sort(key=lambda w: (-w[0], w[1]))
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    best: tuple[int, int, float] | None = None
    for _overlap, start, size in windows[:_CANDIDATES]:
        matcher.set_seq1("\n".join(stripped[start : start + size]))
        if best is not None and matcher.quick_ratio() <= best[2]:
            continue
        ratio = matcher.ratio()
        if best is None or ratio > best[2]:
            best = (start, min(len(haystack), start + size), ratio)
    return best


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"
