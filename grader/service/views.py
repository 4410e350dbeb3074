"""What the pages and the JSON API show, as typed models: one builder each, so the page and the API of the
same thing can never disagree. Who may see what is decided here too (:func:`report_files`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from grader.grading.batch import read_existing
from grader.report.format import why_not_passed
from grader.report.write import PREDICTIONS_FILE, RENDERERS, REPORT_FILE
from grader.rubric.review import REVIEWS_FILE
from grader.service.config import ServiceConfig
from grader.service.db import Assessment, Submission, now
from grader.service.store import TERMINAL, Principal, Status, Store

#: The report files a candidate may read (their own): everything but the predictions on the hidden rows.
CANDIDATE_FILES = (REPORT_FILE, *RENDERERS)
#: ...and an interviewer, besides: the predictions and the review log.
INTERVIEWER_FILES = (*CANDIDATE_FILES, PREDICTIONS_FILE, REVIEWS_FILE)


class FailureView(BaseModel):
    phase: str
    kind: str
    message: str
    detail: str | None = Field(default=None, description="The tail of the log, where there is one.")


class EventView(BaseModel):
    at: datetime
    status: str
    message: str


class SubmissionView(BaseModel):
    id: str
    assessment_id: str
    candidate: str
    status: Status
    phase: str | None = Field(description="What the grading does now (running only).")
    reason: str = Field(description="Why the submission is where it is, in words.")
    attempt: int = Field(description="The candidate's attempt number in this assessment.")
    attempts_allowed: int | None
    tries: int = Field(description="Gradings started: infrastructure failures and restarts start another.")
    position: int | None = Field(description="Place in the queue (1: next), while queued.")
    filename: str
    size_bytes: int
    sha256: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_s: float | None = Field(description="Running: seconds since the grading started; ended: its length.")
    outcome: str | None
    score: float | None
    passed: bool | None
    failures: list[FailureView] = Field(default_factory=list)
    why_not_passed: list[str] = Field(default_factory=list, description="A graded submission that did not pass: "
                                      "why, the root cause first (as every report says it).")
    report_files: list[str] = Field(default_factory=list, description="Files at /api/submissions/{id}/{name}.")
    events: list[EventView] = Field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


class AssessmentView(BaseModel):
    id: str
    task_id: str
    title: str
    deadline: datetime | None
    attempts: int | None
    max_upload_bytes: int
    candidates: int = 0
    submissions: int = 0


class CandidateHome(BaseModel):
    candidate: str
    assessment: AssessmentView
    attempts_used: int
    attempts_left: int | None
    open: bool
    closed_reason: str | None
    submissions: list[SubmissionView]


class QueueView(BaseModel):
    mode: Literal["local", "queue"]
    waiting: int
    running: int
    workers: int
    by_status: dict[str, int]


def report_files(principal: Principal) -> tuple[str, ...]:
    return INTERVIEWER_FILES if principal.kind == "interviewer" else CANDIDATE_FILES


def assessment_view(store: Store, row: Assessment) -> AssessmentView:
    return AssessmentView(id=row.id, task_id=row.task_id, title=row.title, deadline=row.deadline,
                          attempts=row.attempts, max_upload_bytes=row.max_upload_bytes,
                          candidates=len(store.candidates(row.id)),
                          submissions=len(store.submissions(assessment_id=row.id)))


def submission_view(store: Store, config: ServiceConfig, row: Submission, principal: Principal, *,
                    detail: bool = True) -> SubmissionView:
    """``detail``: with the failures (read from the report) and the history, as the status page shows them."""
    assessment = store.assessment(row.assessment_id)
    if row.started_at is not None:
        end = row.finished_at or (now() if row.status == "running" else None)
        elapsed = round((end - row.started_at).total_seconds(), 1) if end is not None else None
    else:
        elapsed = None
    folder = config.report_dir(row.id)
    files = [name for name in report_files(principal) if (folder / name).is_file()] if row.status in TERMINAL \
        else []
    failures: list[FailureView] = []
    why: list[str] = []
    events: list[EventView] = []
    if detail:
        report = read_existing(folder) if files else None
        if report is not None:
            failures = [FailureView(phase=f.phase, kind=f.kind, message=f.message, detail=f.detail)
                        for f in report.failures]
            why = why_not_passed(report)
        events = [EventView(at=e.at, status=e.status, message=e.message) for e in store.events(row.id)]
    return SubmissionView(
        id=row.id, assessment_id=row.assessment_id, candidate=store.candidate(row.candidate_id).name,
        status=row.status,  # type: ignore[arg-type]
        phase=row.phase if row.status == "running" else None, reason=row.reason, attempt=row.number,
        attempts_allowed=assessment.attempts, tries=row.tries, position=store.position(row), filename=row.filename,
        size_bytes=row.size_bytes, sha256=row.sha256, created_at=row.created_at, started_at=row.started_at,
        finished_at=row.finished_at, elapsed_s=elapsed, outcome=row.outcome, score=row.score, passed=row.passed,
        failures=failures, why_not_passed=why, report_files=files, events=events)


def candidate_home(store: Store, config: ServiceConfig, principal: Principal) -> CandidateHome:
    from grader.errors import GraderError

    assert principal.assessment_id is not None
    assessment = store.assessment(principal.assessment_id)
    used = store.attempts_used(principal.id)
    try:
        store.check_open(principal)
        closed = None
    except GraderError as exc:
        closed = exc.message
    rows = store.submissions(candidate_id=principal.id)
    return CandidateHome(candidate=principal.name, assessment=assessment_view(store, assessment), attempts_used=used,
                         attempts_left=None if assessment.attempts is None else max(0, assessment.attempts - used),
                         open=closed is None, closed_reason=closed,
                         submissions=[submission_view(store, config, r, principal, detail=False)
                                      for r in reversed(rows)])

