"""What one source file defines and uses: the data the index keeps per file.

Produced by `tools.python_symbols.parse_python` (a pure function of the file's bytes,
so it can be cached by content hash); everything that depends on the rest of the
repository (a file's dotted module name, where a relative import points) is worked out
later by the index.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Bumped whenever extraction changes, so cached entries made by an older parser are
# re-parsed instead of trusted.
PARSER_VERSION = 2

DefKind = Literal["class", "function", "method", "variable", "attribute"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Definition(_Model):
    """A name a file defines. `name` is qualified within its module: `Money.parse`."""

    name: str
    kind: DefKind
    line: int = Field(description="1-based first line (the decorator line for decorated defs)")
    end_line: int
    signature: str = Field(default="", description="header without the body, one line")
    bases: list[str] = Field(default_factory=list, description="classes: base expressions")
    decorators: list[str] = Field(default_factory=list)

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def parent(self) -> str | None:
        return self.name.rsplit(".", 1)[0] if "." in self.name else None


class ImportRef(_Model):
    """One imported name. `module` is as written (relative imports keep `level` > 0)."""

    module: str = Field(description="dotted module as written, without leading dots")
    level: int = Field(default=0, description="number of leading dots (relative import)")
    name: str | None = Field(default=None, description="`from m import name`; None for `import m`")
    alias: str | None = Field(default=None, description="the name bound, when not the default")
    line: int

    @property
    def bound(self) -> str:
        """The name this import binds in the importing module."""
        if self.alias:
            return self.alias
        if self.name is not None:
            return self.name
        return self.module.split(".", 1)[0]


class FileSymbols(_Model):
    """The parse of one file's content (a pure function of its bytes)."""

    definitions: list[Definition] = Field(default_factory=list)
    imports: list[ImportRef] = Field(default_factory=list)
    references: dict[str, int] = Field(
        default_factory=dict,
        description="bare name → uses (not definitions, parameters or attribute names)",
    )
    attributes: dict[str, int] = Field(
        default_factory=dict, description="name used after a dot (`x.name`) → uses"
    )
    words: list[str] = Field(
        default_factory=list,
        description="other identifier-like words: parameters, keyword arguments, and words "
        "in string literals (config keys, option names); grounding's vocabulary",
    )
    syntax_error: bool = False
