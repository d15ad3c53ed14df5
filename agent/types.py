"""Data that crosses package boundaries.

Every model here is plain pydantic with no heavy imports, so `probes`, `memory`,
`bench` and `bot` can depend on it without pulling in torch or LangGraph. Models
that are persisted on their own carry a `format_version`; readers refuse versions
they do not know instead of guessing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Re-exported: tools own these, everything above tools reaches them through agent.types.
from tools.types import (  # noqa: F401
    GroundingResult,
    NameCheck,
    TestOutcome,
    TestRun,
    ToolCall,
    ToolSpec,
)

FORMAT_VERSION = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def content_hash(payload: Any) -> str:
    """Stable sha256 of a JSON-able payload (keys sorted), used to name data by content."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class Model(BaseModel):
    """Base for engram's data: unknown fields are errors, so typos surface early."""

    model_config = ConfigDict(extra="forbid")


class Persisted(Model):
    format_version: int = FORMAT_VERSION


# --------------------------------------------------------------------------- tasks


class Task(Persisted):
    """A unit of work. Test lists follow SWE-bench's FAIL_TO_PASS / PASS_TO_PASS meaning."""

    id: str
    repo: str = Field(description="local path or clone URL of the repository")
    problem_statement: str
    base_commit: str | None = Field(default=None, description="None: the repo's HEAD")
    fail_to_pass: list[str] = Field(default_factory=list)
    pass_to_pass: list[str] = Field(default_factory=list)
    test_command: str | None = Field(default=None, description="overrides test discovery")
    test_patch: str | None = None
    source: str = Field(default="user", description="user | generated | swe-bench | bot | …")
    split: Literal["train", "test", "any"] = "any"
    labels: dict[str, str] = Field(
        default_factory=dict, description="free-form provenance (mutation kind, issue url, …)"
    )


# --------------------------------------------------------------------------- chat


class ChatMessage(Model):
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class TokenUsage(Model):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


# --------------------------------------------------------------------------- steps


class Observation(Model):
    """What a tool returned to the model. `ok` is False when the action failed."""

    text: str
    ok: bool = True
    error_kind: str | None = Field(
        default=None,
        description="format_error | unknown_tool | bad_arguments | not_found | timeout | "
        "tool_error | refused | repeat",
    )
    truncated: bool = False
    exit_code: int | None = None
    tests: TestRun | None = Field(
        default=None, description="run_tests: counts and the non-passing outcomes, structured"
    )


class Decision(StrEnum):
    ACCEPT = "accept"
    RESAMPLE = "resample"
    ROLLBACK = "rollback"
    FINISH = "finish"


class ProbeReading(Model):
    """One monitor verdict. Scores are None where no probe ran (the reason says why)."""

    step_score: float | None = None
    prefix_score: float | None = None
    step_threshold: float | None = None
    prefix_threshold: float | None = None
    decision: Decision = Decision.ACCEPT
    reason: str = ""
    phase: Literal["pre_action", "post_observation"] = "pre_action"
    probe_id: str | None = None
    mean_entropy: float | None = None
    min_logprob: float | None = None
    latency_s: float = 0.0


class StepTimings(Model):
    model_s: float = 0.0
    monitor_s: float = 0.0
    tools_s: float = 0.0
    snapshot_s: float = 0.0
    total_s: float = 0.0

    @property
    def framework_s(self) -> float:
        """Time spent in the graph itself: everything not generation, tools or monitor."""
        return max(0.0, self.total_s - self.model_s - self.tools_s - self.monitor_s)


class StepLabel(Model):
    """Hallucination label derived from the repository, never from a judge model."""

    hallucinated: bool
    reasons: list[str] = Field(default_factory=list)
    source: Literal["grounding", "tool_failure", "verified_run", "unknown"] = "unknown"


class Step(Model):
    index: int
    actor: Literal["model", "harness"] = Field(
        default="model", description="harness: proposed by the policy without a model call"
    )
    message: str = Field(description="the model's raw reply: thought + action")
    thought: str = ""
    action: ToolCall | None = None
    format_error: str | None = None
    notes: list[str] = Field(
        default_factory=list, description="harness notes shown with the result"
    )
    observation: Observation | None = None
    readings: list[ProbeReading] = Field(default_factory=list)
    snapshot_before: str | None = None
    snapshot_after: str | None = None
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    timings: StepTimings = Field(default_factory=StepTimings)
    temperature: float | None = None
    rolled_back: bool = False
    resampled: bool = False
    repeat_of: int | None = Field(default=None, description="index of the step this repeats")
    reason: str | None = Field(default=None, description="why it was rolled back / resampled")
    label: StepLabel | None = None
    prompt: list[ChatMessage] | None = Field(
        default=None,
        description="the exact messages the model saw, for policies that build each turn's "
        "prompt themselves (small); None: the kept steps' conversation (free-form)",
    )
    started_at: datetime = Field(default_factory=utcnow)

    @property
    def kept(self) -> bool:
        """Whether the step counts towards the final run (demonstrations use only these)."""
        return not (self.rolled_back or self.resampled)


# --------------------------------------------------------------------------- runs


class ExitStatus(StrEnum):
    SUBMITTED = "submitted"
    STEP_LIMIT = "step_limit"
    TOKEN_LIMIT = "token_limit"
    TIME_LIMIT = "time_limit"
    BUDGET_EXHAUSTED = "budget_exhausted"  # resample / rollback budget
    FORMAT_ERRORS = "format_errors"
    CONTEXT_OVERFLOW = "context_overflow"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class Verification(Model):
    """Result of running tests on the final tree, in the sandbox."""

    command: str
    passed: bool
    exit_code: int | None = None
    summary: str = ""
    outcomes: list[TestOutcome] = Field(default_factory=list)
    fail_to_pass_ok: bool | None = None
    pass_to_pass_ok: bool | None = None
    output_tail: str = ""
    duration_s: float = 0.0


VerifiedBy = Literal["tests", "human-merge", "benchmark"]


class Trajectory(Persisted):
    run_id: str
    task: Task
    repo_id: str
    model_id: str
    backend: str
    policy: str = "freeform"
    source: Literal["agent", "bootstrap"] = Field(
        default="agent",
        description="bootstrap: a demonstration the harness wrote from a generated task's "
        "known fix, never the agent's own run (reported and counted apart)",
    )
    adapter_version: int | None = None
    branch: str | None = None
    base_commit: str | None = None
    steps: list[Step] = Field(default_factory=list)
    exit_status: ExitStatus | None = None
    exit_reason: str = ""
    final_diff: str = ""
    verification: Verification | None = None
    verified_by: VerifiedBy | None = None
    eligible_for_learning: bool = False
    seed: int | None = None
    parent_run: str | None = Field(default=None, description="the run this one was forked from")
    forked_at: int | None = Field(default=None, description="kept steps taken over from the parent")
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    usage: TokenUsage = Field(default_factory=TokenUsage)

    @property
    def kept_steps(self) -> list[Step]:
        return [s for s in self.steps if s.kept]

    @property
    def resolved(self) -> bool:
        return bool(self.verification and self.verification.passed)


# --------------------------------------------------------------------------- grounding

# Grounding is computed by the tools layer; its result types (GroundingResult,
# NameCheck) live in tools.types and are re-exported from here.


# --------------------------------------------------------------------------- memory


class SelfEditKind(StrEnum):
    DEMONSTRATION = "demonstration"
    REPO_NOTE = "repo_note"
    QA = "qa"


class TrainingHyperparams(Model):
    """Hyperparameters a self-edit may ask for; memory clamps them to safe bounds."""

    learning_rate: float = 1e-4
    epochs: int = 2
    lora_rank: int = 16
    lora_alpha: int = 32
    loss: Literal["ce", "eaft"] = "eaft"


class SelfEdit(Persisted):
    id: str = Field(description="content hash")
    repo_id: str
    kind: SelfEditKind
    messages: list[ChatMessage] = Field(
        default_factory=list, description="chat form; loss on assistant turns only"
    )
    source_run: str | None = None
    source: Literal["agent", "bootstrap"] = "agent"
    grounding: GroundingResult | None = None
    hyperparameters: TrainingHyperparams | None = None
    created_at: datetime = Field(default_factory=utcnow)


class AdapterStatus(StrEnum):
    CANDIDATE = "candidate"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CURRENT = "current"


class AdapterVersion(Persisted):
    repo_id: str
    version: int
    base_model_id: str
    base_model_hash: str
    peft_config: dict[str, Any] = Field(default_factory=dict)
    self_edit_hashes: list[str] = Field(default_factory=list)
    hyperparameters: TrainingHyperparams = Field(default_factory=TrainingHyperparams)
    method: Literal["retrain", "merge"] = "retrain"
    metrics: dict[str, float] = Field(default_factory=dict)
    parent: int | None = None
    status: AdapterStatus = AdapterStatus.CANDIDATE
    created_at: datetime = Field(default_factory=utcnow)
    notes: str = ""
