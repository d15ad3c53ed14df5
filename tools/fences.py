"""Fenced blocks in a model's reply, found the forgiving way.

Openings are three or more backticks or tildes, indented or not; a block closes at a
line of the same character at least as long, or runs to the end of the reply when
the model (or a stop sequence) never closed it. An indented block is dedented by
its fence's indentation. A one-line block (```view src/x.py```) is recognised too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    info: str  # the text after the opening fence, stripped
    body: str  # the lines inside, dedented, joined with "\n"
    start: int  # line index of the opening fence
    end: int  # line index of the closing fence (len(lines) when unclosed)
    closed: bool
    before: str = ""  # the nearest non-blank line above the opening fence
    one_line: bool = False


def normalize(text: str) -> str:
    """CRLF / CR line ends → LF; a BOM and zero-width spaces removed."""
    return (
        text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").replace("\u200b", "")
    )


def _dedent(line: str, indent: int) -> str:
    cut = 0
    while cut < indent and cut < len(line) and line[cut] in " \t":
        cut += 1
    return line[cut:]


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def find_blocks(text: str) -> list[Block]:
    lines = normalize(text).split("\n")
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _OPEN.match(lines[index])
        if not match:
            index += 1
            continue
        fence, info = match["fence"], match["info"].strip()
        before = next((lines[k].strip() for k in range(index - 1, -1, -1) if lines[k].strip()), "")
        if fence[0] == "`" and "`" in info:
            # ```view src/x.py``` on one line; anything else with backticks is inline code.
            if info.endswith(fence) and len(info) > len(fence):
                inner = info[: -len(fence)].strip()
                blocks.append(Block(inner, "", index, index, True, before, one_line=True))
            index += 1
            continue
        indent = len(match["indent"].expandtabs(4))
        end = index + 1
        while end < len(lines) and not _closes(lines[end], fence):
            end += 1
        closed = end < len(lines)
        body = "\n".join(_dedent(line, indent) for line in lines[index + 1 : end])
        blocks.append(Block(info, body, index, end, closed, before))
        index = end + 1
    return blocks


def text_before(text: str, block: Block) -> str:
    """The reply's text above `block` (the model's thought)."""
    return "\n".join(normalize(text).split("\n")[: block.start]).strip()
