"""Byte-exact access to a Python file for the mutation finder: node spans, operator tokens.

`ast` gives UTF-8 byte offsets for nodes but no positions for operators. An operator
sits in the gap between two operands, where nothing else can be but parentheses,
whitespace, line continuations and comments; comments are masked before searching.
"""

from __future__ import annotations

import ast
import bisect
import re

_COMMENT = re.compile(rb"#[^\n]*")


class SourceText:
    def __init__(self, data: bytes):
        self.data = data
        self.line_starts = [0] + [i + 1 for i, byte in enumerate(data) if byte == 0x0A]

    def offset(self, lineno: int, col: int) -> int:
        return self.line_starts[lineno - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def node_text(self, node: ast.AST) -> str:
        return self.text(*self.span(node))

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset)

    def find_token(self, start: int, end: int, pattern: bytes) -> tuple[int, int] | None:
        """The first match of `pattern` between `start` and `end`, comments ignored."""
        gap = _COMMENT.sub(lambda m: b" " * len(m.group()), self.data[start:end])
        match = re.search(pattern, gap)
        if match is None:
            return None
        return start + match.start(), start + match.end()

    def line_bounds(self, first: int, last: int) -> tuple[int, int]:
        """Byte range of whole lines `first`..`last` (1-based), newline included."""
        start = self.line_starts[first - 1]
        end = self.line_starts[last] if last < len(self.line_starts) else len(self.data)
        return start, end

    def alone_on_lines(self, start: int, end: int) -> bool:
        """Whether only whitespace precedes `start` and only whitespace/comment follows `end`."""
        line_start = self.line_starts[self.line_of(start) - 1]
        if self.data[line_start:start].strip():
            return False
        line_end = self.data.find(b"\n", end)
        rest = self.data[end : len(self.data) if line_end < 0 else line_end].strip()
        return not rest or rest.startswith(b"#")
