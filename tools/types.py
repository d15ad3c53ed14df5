"""Data the tools layer hands upwards. Light: pydantic only (agent.types re-exports it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolParam(_Model):
    name: str
    type: Literal["string", "integer", "number", "boolean"] = "string"
    description: str
    required: bool = True
    enum: list[str] | None = None
    aliases: list[str] = Field(
        default_factory=list,
        description="other names models use for this parameter (`file` for `path`); "
        "accepted on input, never shown",
    )


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
    body_format: Literal["verbatim", "search_replace"] = Field(
        default="verbatim",
        description="verbatim: the body is `body_param` as written; search_replace: the "
        "body is a SEARCH/REPLACE block that fills the `old` and `new` parameters",
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
    tests: TestRun | None = Field(
        default=None,
        description="run_tests: the run's counts and its non-passing outcomes (passing ones "
        "are left out to keep trajectories small)",
    )


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


# --------------------------------------------------------------------------- tests

TestStatus = Literal["passed", "failed", "error", "skipped", "xfailed", "xpassed"]
PASSING: frozenset[str] = frozenset({"passed", "xfailed", "xpassed"})
"""Statuses that count as a pass (SWE-bench's grading counts PASSED and XFAIL)."""
FAILING: frozenset[str] = frozenset({"failed", "error"})


class TestOutcome(_Model):
    """One test's result. `passed` and `status` agree; give either (status wins)."""

    __test__ = False  # not a pytest class

    test_id: str = Field(description="pytest node id, or unittest's dotted id")
    passed: bool
    status: TestStatus
    message: str = Field(default="", description="short: the assertion / exception line(s)")
    duration_s: float = 0.0
    frames: list[str] = Field(
        default_factory=list,
        description="the failure's traceback as `path:line`, outermost first (where the "
        "runner reports it)",
    )

    @model_validator(mode="before")
    @classmethod
    def _status_or_passed(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if data.get("status") is None and "passed" in data:
                data["status"] = "passed" if data["passed"] else "failed"
            if "status" in data and "passed" not in data:
                data["passed"] = data["status"] in PASSING
            elif "status" in data and bool(data["passed"]) != (data["status"] in PASSING):
                raise ValueError(f"passed={data['passed']} contradicts status={data['status']}")
        return data

    @property
    def failed(self) -> bool:
        return self.status in FAILING


class TestRun(_Model):
    """A test command's structured result; what run_tests, verification and graders share.

    `outcomes` holds the tests that ran (one per id); `collection_errors` the files or
    modules that could not be collected (their tests never ran). Counts are derived from
    both when built with `TestRun.build`.
    """

    __test__ = False

    command: str
    framework: Literal["pytest", "unittest", "custom"] = "pytest"
    source: str = Field(default="", description="where the command came from")
    outcomes: list[TestOutcome] = Field(default_factory=list)
    collection_errors: list[TestOutcome] = Field(default_factory=list)
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    xfailed: int = 0
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = ""

    @classmethod
    def build(cls, **fields: Any) -> TestRun:
        """Make a run and derive the counts from its outcomes and collection errors."""
        run = cls(**fields)
        statuses = [o.status for o in run.outcomes]
        run.passed = sum(s in ("passed", "xpassed") for s in statuses)
        run.failed = statuses.count("failed")
        run.errors = statuses.count("error") + len(run.collection_errors)
        run.skipped = statuses.count("skipped")
        run.xfailed = statuses.count("xfailed")
        return run

    @property
    def ok(self) -> bool:
        """Everything ran and passed (at least one test, for frameworks we parse)."""
        if self.timed_out or self.exit_code != 0:
            return False
        if self.framework == "custom":
            return True
        return self.failed == 0 and self.errors == 0 and bool(self.outcomes)

    @property
    def failures(self) -> list[TestOutcome]:
        """Collection errors first (nothing in them ran), then failed and erroring tests."""
        return [*self.collection_errors, *(o for o in self.outcomes if o.failed)]

    def status_of(self, test_id: str) -> TestStatus | None:
        """The status of `test_id`, None if it did not run (missing or not collected)."""
        for outcome in self.outcomes:
            if outcome.test_id == test_id:
                return outcome.status
        return None

    def passed_test(self, test_id: str) -> bool:
        return self.status_of(test_id) in PASSING

    def counts_text(self) -> str:
        counts = {"passed": self.passed, "failed": self.failed, "error": self.errors,
                  "skipped": self.skipped, "xfailed": self.xfailed}  # fmt: skip
        parts = [
            f"{n} {label}{'s' if label == 'error' and n != 1 else ''}"
            for label, n in counts.items()
            if n
        ]
        return ", ".join(parts) or "no tests ran"


ToolResult.model_rebuild()  # `tests` names TestRun, defined after it
