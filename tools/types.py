"""Data the tools layer hands upwards. Light: pydantic only (agent.types re-exports it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolParam(_Model):
    name: str
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str
    required: bool = True
    enum: list[str] | None = None


class ToolSpec(_Model):
    """A tool described once; rendered as a native tool schema and as the text protocol."""

    name: str
    summary: str = Field(description="one line: what it does")
    description: str = Field(default="", description="longer help shown to the model")
    params: list[ToolParam] = Field(default_factory=list)
    body_param: str | None = Field(
        default=None,
        description="in the text protocol, the parameter that takes the fenced block's "
        "free text (a command, file content, an edit) instead of a `key: value` line",
    )
    examples: list[dict[str, Any]] = Field(
        default_factory=list, description="concrete argument sets (never placeholders)"
    )


class ToolCall(_Model):
    """A parsed action: which tool, with which arguments."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class ToolResult(_Model):
    """What a tool returns. `ok=False` means the action failed; `text` says what to do."""

    text: str
    ok: bool = True
    error_kind: str | None = Field(
        default=None,
        description="unknown_tool | bad_arguments | not_found | ambiguous | syntax_error | "
        "timeout | refused | tool_error",
    )
    truncated: bool = False
    exit_code: int | None = None
    changed_files: list[str] = Field(default_factory=list)
    submitted: bool = False


class NameCheck(_Model):
    """One name mentioned in a text and whether the repository has it."""

    name: str
    kind: Literal["path", "module", "class", "function", "method", "symbol"]
    exists: bool
    resolved_to: str | None = Field(default=None, description="where it was found")


class GroundingResult(_Model):
    checks: list[NameCheck] = Field(default_factory=list)

    @property
    def missing(self) -> list[NameCheck]:
        return [c for c in self.checks if not c.exists]

    @property
    def grounded(self) -> bool:
        return not self.missing
