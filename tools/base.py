"""The Tool protocol, the context a tool runs in, and argument validation.

A tool is a `spec` (described once, rendered as a native schema and as the text
protocol) and `run(args, ctx)`. `run` receives arguments already validated against
the spec (`validate_arguments`), acts only through `ctx.sandbox`, and returns a
ToolResult whose text is written for the model: short, and when something failed,
saying what to do next. Tools never raise for what the model asked; the registry
turns any unexpected exception into a `tool_error` result without a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from sandboxes.base import Sandbox
from tools.calls import ActionFormat, usage
from tools.types import ToolParam, ToolResult, ToolSpec


@dataclass
class ToolLimits:
    """How much a tool may show or spend. Output limits are in characters."""

    output_chars: int = 3000
    view_lines: int = 80
    list_depth: int = 2
    list_entries: int = 120
    search_files: int = 15
    search_matches_per_file: int = 5
    bash_timeout_s: float = 60.0
    max_timeout_s: float = 600.0
    tests_timeout_s: float = 600.0
    failures_shown: int = 8


@dataclass
class ToolContext:
    """What a tool may use. The agent fills the hooks; every hook is optional.

    `tree_changed()` tells whether the workspace differs from where the run started
    (submit uses it to catch an empty submission). `test_command` overrides test
    discovery (a Task's own command). `state` is per-run scratch for tools (cached
    test discovery, the python alias); it holds nothing that must survive a crash.
    """

    sandbox: Sandbox
    limits: ToolLimits = field(default_factory=ToolLimits)
    action_format: ActionFormat = "text"
    tree_changed: Callable[[], bool] | None = None
    test_command: str | None = None
    state: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Tool(Protocol):
    spec: ToolSpec

    def run(self, args: dict[str, Any], ctx: ToolContext) -> ToolResult: ...


# --------------------------------------------------------------------------- results


def success(text: str, **fields: Any) -> ToolResult:
    return ToolResult(text=text, ok=True, **fields)


def failure(kind: str, text: str, **fields: Any) -> ToolResult:
    return ToolResult(text=text, ok=False, error_kind=kind, **fields)


# --------------------------------------------------------------------------- validation

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


class _Invalid(ValueError):
    pass


def _coerce(param: ToolParam, value: Any) -> Any:
    """The value in the param's type. Text-protocol values arrive as strings."""
    kind = param.type
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _Invalid(f"`{param.name}` must be text")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise _Invalid(f"`{param.name}` must be true or false, not {value!r}")
    if isinstance(value, bool):
        raise _Invalid(f"`{param.name}` must be a number, not {value!r}")
    if kind == "integer":
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        text = str(value).strip().rstrip(",")
        try:
            return int(text)
        except ValueError:
            raise _Invalid(f"`{param.name}` must be a whole number, not {value!r}") from None
    try:
        return float(str(value).strip())
    except ValueError:
        raise _Invalid(f"`{param.name}` must be a number, not {value!r}") from None


def canonical_name(spec: ToolSpec, key: str) -> str | None:
    """The parameter `key` names (its own name or an alias), None if none."""
    wanted = key.strip().lower().replace("-", "_")
    for param in spec.params:
        if wanted == param.name or wanted in param.aliases:
            return param.name
    return None


def validate_arguments(spec: ToolSpec, args: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Arguments checked and converted to the spec's types, and the problems found.

    Aliases map to their parameter; None for an optional parameter means "not given".
    """
    problems: list[str] = []
    clean: dict[str, Any] = {}
    params = {p.name: p for p in spec.params}
    for key, value in args.items():
        name = canonical_name(spec, str(key))
        if name is None:
            known = ", ".join(params) or "none"
            problems.append(f"`{key}` is not a parameter of {spec.name} (parameters: {known})")
            continue
        if name in clean:
            problems.append(f"`{name}` is given twice")
            continue
        if value is None:
            continue
        try:
            value = _coerce(params[name], value)
        except _Invalid as exc:
            problems.append(str(exc))
            continue
        enum = params[name].enum
        if enum and value not in enum:
            problems.append(f"`{name}` must be one of {', '.join(enum)}, not {value!r}")
            continue
        clean[name] = value
    for param in spec.params:
        if param.required and param.name not in clean:
            problems.append(f"`{param.name}` is missing")
    return clean, problems


def bad_arguments(spec: ToolSpec, problems: list[str], fmt: ActionFormat = "text") -> ToolResult:
    text = f"Wrong arguments for {spec.name}: {'; '.join(problems)}.\n{usage(spec, fmt)}"
    return failure("bad_arguments", text)
