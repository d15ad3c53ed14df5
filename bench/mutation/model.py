"""A mutation: one text edit at an AST node's exact place, and how to apply several.

Edits splice the file's bytes (`ast` positions are UTF-8 byte offsets), so everything
but the mutated tokens stays byte for byte as it was: the fix is a minimal diff, and
formatting never gives the bug away.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import itertools
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

KINDS = (
    "comparison",
    "arithmetic",
    "off_by_one",
    "removed_statement",
    "swapped_arguments",
    "wrong_constant",
    "return_value",
    "boolean_operator",
)


class MutationError(ValueError):
    """A mutation does not fit the source it is applied to (stale, overlapping, or invalid)."""


class Mutation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    file: str
    start: int  # byte offsets into the file
    end: int
    line: int  # 1-based, for people
    end_line: int
    original: str
    replacement: str
    function: str = "<module>"
    description: str = ""

    @property
    def key(self) -> str:
        digest = hashlib.sha1(self.replacement.encode()).hexdigest()[:8]
        return f"{self.file}:{self.start}-{self.end}:{self.kind}:{digest}"

    @property
    def scope(self) -> str:
        """File and function: multi-site tasks put each site in a different scope."""
        return f"{self.file}::{self.function}"


def candidate_key(mutations: Iterable[Mutation]) -> str:
    """A stable id of a set of mutations (order does not matter)."""
    keys = sorted(m.key for m in mutations)
    return hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]


def apply_to_source(source: bytes, mutations: Iterable[Mutation]) -> bytes:
    """Apply mutations of one file; raises MutationError if they overlap or do not fit."""
    ordered = sorted(mutations, key=lambda m: m.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise MutationError(f"overlapping mutations at {before.key} and {after.key}")
    out = bytearray(source)
    for m in reversed(ordered):
        if source[m.start : m.end].decode("utf-8", "replace") != m.original:
            raise MutationError(f"{m.key}: the source no longer has {m.original!r} there")
        out[m.start : m.end] = m.replacement.encode("utf-8")
    return bytes(out)


@functools.lru_cache(maxsize=128)
def _program(source: bytes) -> str:
    """The AST of a file as text: two sources with the same program compare equal."""
    return ast.dump(ast.parse(source))


def apply_mutations(sources: dict[str, bytes], mutations: Iterable[Mutation]) -> dict[str, bytes]:
    """The mutated content of every file touched; each must still parse and must differ.

    A mutation that leaves the program unchanged (same AST) is refused: it cannot make
    a test fail, and it would make a task whose fix is a no-op.
    """
    by_file: dict[str, list[Mutation]] = {}
    for m in mutations:
        by_file.setdefault(m.file, []).append(m)
    out: dict[str, bytes] = {}
    for path, items in sorted(by_file.items()):
        if path not in sources:
            raise MutationError(f"{path}: not among the sources")
        new = apply_to_source(sources[path], items)
        try:
            new_program = ast.dump(ast.parse(new))
        except SyntaxError as exc:
            raise MutationError(f"{path}: the mutation does not parse ({exc.msg})") from exc
        if new_program == _program(sources[path]):
            raise MutationError(f"{path}: the mutation does not change the program")
        out[path] = new
    return out
