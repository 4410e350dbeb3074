"""``report.json``: the contract's report (section 4), as a pydantic model with a JSON Schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["graded", "invalid", "error"]
Phase = Literal["validate", "prepare", "train", "predict", "score", "grader"]
FailureKind = Literal[
    "timeout", "oom", "crash", "invalid_output", "invalid_submission", "limit_exceeded", "sandbox_error"
]
SCHEMA_VERSION: Literal["1"] = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Failure(_Model):
    """Something that went wrong, written for the candidate to act on."""

    phase: Phase
    kind: FailureKind
    message: str
    #: The tail of the candidate's stderr (or other raw evidence), when there is one.
    detail: str | None = None


class TaskRef(_Model):
    id: str
    version: int | None = None


class SubmissionRef(_Model):
    sha256: str | None = None
    path: str | None = None
    files: int | None = None
    bytes: int | None = None


class Requirement(_Model):
    rule: str
    value: float | None
    met: bool


class PhaseRun(_Model):
    """One sandbox run: how it ended and what it cost."""

    exit_code: int | None
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    pids_exhausted: bool = False
    peak_memory_mb: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Report(_Model):
    schema_version: Literal["1"] = SCHEMA_VERSION
    status: Status
    passed: bool = False
    score: float = Field(default=0.0, ge=0, le=100)
    task: TaskRef
    submission: SubmissionRef = Field(default_factory=SubmissionRef)
    metrics: dict[str, float | None] = Field(default_factory=dict)
    confusion_matrix: dict[str, Any] | None = None
    latency: dict[str, Any] = Field(default_factory=dict)
    reproducibility: dict[str, Any] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    pass_rule: list[Requirement] = Field(default_factory=list)
    phases: dict[str, PhaseRun] = Field(default_factory=dict)
    environment: dict[str, Any] = Field(default_factory=dict)
    started_at: str | None = None
    duration_s: float | None = None

    @property
    def exit_code(self) -> int:
        """The contract's exit codes: 0 passed, 1 not passed, 3 invalid, 4 error."""
        if self.status == "invalid":
            return 3
        if self.status == "error":
            return 4
        return 0 if self.passed else 1
