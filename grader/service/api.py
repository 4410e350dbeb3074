"""The JSON API: the same data as the pages, for scripts and CI. Every answer but a report file is JSON; every
refusal is ``{"detail": message, "hint": how to fix it}`` with its status (401 no or unknown token, 403 not
yours to do, 404 not found or someone else's, 409 attempts used, 413 too large, 422 a refused archive)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from grader.service import cohort
from grader.service.auth import CSRF_FIELD, CSRF_HEADER, Session, check_csrf, require, require_kind
from grader.service.db import Submission
from grader.service.errors import NotFound
from grader.service.state import State
from grader.service.store import TERMINAL
from grader.service.uploads import receive, store_upload
from grader.service.views import (
    AssessmentView,
    CandidateHome,
    QueueView,
    SubmissionView,
    assessment_view,
    candidate_home,
    report_files,
    submission_view,
)

router = APIRouter(prefix="/api", tags=["api"])

#: Answers every endpoint may give, for the OpenAPI schema.
ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No token, or one this server does not know"},
    403: {"description": "Not allowed for this token"},
    404: {"description": "Not found (or not yours)"},
}


class Accepted(BaseModel):
    id: str
    status: str
    url: str = Field(description="Where to follow it: GET this for its status.")


class Me(BaseModel):
    kind: str
    name: str
    home: CandidateHome | None = None


class ReviewIn(BaseModel):
    criterion: str
    points: float
    note: str


def _state(request: Request) -> State:
    return request.app.state.grader


def _session(request: Request) -> Session:
    return require(request, _state(request).store)


def visible_submission(state: State, session: Session, submission_id: str) -> Submission:
    """The submission, when ``session`` may see it: an interviewer any, a candidate only their own (someone
    else's is answered exactly as one that does not exist, so ids reveal nothing)."""
    try:
        row: Submission | None = state.store.submission(submission_id)
    except NotFound:
        row = None
    if row is None or (session.principal.kind == "candidate" and row.candidate_id != session.principal.id):
        raise NotFound(f"no submission {submission_id!r}", "list yours at /api/me" if session.principal.kind ==
                       "candidate" else "list an assessment's at /api/assessments/{id}/submissions")
    return row


@router.get("/me", response_model=Me, responses=ERRORS)
def me(request: Request) -> Me:
    """Who the token is; a candidate's assessment, attempts left and submissions."""
    state, session = _state(request), _session(request)
    p = session.principal
    home = candidate_home(state.store, state.config, p) if p.kind == "candidate" else None
    return Me(kind=p.kind, name=p.name, home=home)


@router.post("/submissions", status_code=202, response_model=Accepted,
             responses={**ERRORS, 409: {"description": "All attempts used"},
                        413: {"description": "Over the assessment's upload cap; nothing stored"},
                        422: {"description": "Not a .zip / .tar.gz, or an archive the intake refuses"}},
             openapi_extra={"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary",
                              "description": "The submission: a .zip or .tar.gz with submission.yaml at its top"},
                     CSRF_FIELD: {"type": "string", "description": "Only with the session cookie"}}}}}}})
async def submit(request: Request) -> Accepted:
    """Hand in a submission (candidates). Stored on disk and in the database before this answers 202."""
    state = _state(request)
    session = await run_in_threadpool(_session, request)
    require_kind(session, "candidate")
    row = await hand_in(request, state, session, csrf_header=True)
    return Accepted(id=row.id, status=row.status, url=f"/api/submissions/{row.id}")


async def hand_in(request: Request, state: State, session: Session, *, csrf_header: bool) -> Submission:
    """A candidate's upload, from the request to a queued submission (the API's and the upload form's): the
    assessment still open, the body under its cap, the session's CSRF token (in the form, or with
    ``csrf_header`` in the ``X-CSRF-Token`` header too), stored; the workers are woken."""
    assessment = await run_in_threadpool(state.store.check_open, session.principal)
    state.config.incoming_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="upload-", dir=state.config.incoming_dir) as tmp:
        received = await receive(request, assessment.max_upload_bytes, Path(tmp))
        check_csrf(session, received.fields.get(CSRF_FIELD) or (request.headers.get(CSRF_HEADER) if csrf_header
                                                                 else None))
        row = await run_in_threadpool(store_upload, state.store, state.config, session.principal, received)
    state.wake()
    return row


@router.get("/submissions/{submission_id}", response_model=SubmissionView, responses=ERRORS)
def submission(submission_id: str, request: Request) -> SubmissionView:
    """A submission's status (queued with its position, running with its phase and elapsed time, then the
    result), why it is there, its failures with the log tail, and its report files."""
    state, session = _state(request), _session(request)
    row = visible_submission(state, session, submission_id)
    return submission_view(state.store, state.config, row, session.principal)


@router.get("/submissions/{submission_id}/{name}", responses={**ERRORS, 200: {"description": "The file"}})
def report_file(submission_id: str, name: str, request: Request) -> FileResponse:
    """A report file of a settled grading: report.json, report.html, report.md, junit.xml (and, for
    interviewers, predictions.csv and reviews.json)."""
    state, session = _state(request), _session(request)
    row = visible_submission(state, session, submission_id)
    return file_response(state, session, row, name)


def file_response(state: State, session: Session, row: Submission, name: str) -> FileResponse:
    allowed = report_files(session.principal)
    path = state.config.report_dir(row.id) / name
    if name not in allowed:
        raise NotFound(f"no report file {name!r}", f"the files are {', '.join(allowed)}")
    if row.status not in TERMINAL or not path.is_file():
        raise NotFound(f"submission {row.id} has no {name} (it is {row.status})",
                       "follow GET /api/submissions/{id} until its status is graded, invalid or error")
    media = {"json": "application/json", "html": "text/html; charset=utf-8", "md": "text/markdown; charset=utf-8",
             "xml": "application/xml", "csv": "text/csv; charset=utf-8"}[name.rsplit(".", 1)[-1]]
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-store"})


@router.post("/submissions/{submission_id}/reviews", response_model=SubmissionView, responses=ERRORS)
def add_review(submission_id: str, review: ReviewIn, request: Request) -> SubmissionView:
    """Score one criterion as an interviewer (the same review as ``grader review``, recorded with who and
    when); the report is re-scored."""
    state, session = _state(request), _session(request)
    require_kind(session, "interviewer")
    check_csrf(session, request.headers.get(CSRF_HEADER))
    row = visible_submission(state, session, submission_id)
    state.review(row, review.criterion, review.points, review.note, session.principal.name)
    return submission_view(state.store, state.config, state.store.submission(row.id), session.principal)


@router.get("/assessments", response_model=list[AssessmentView], responses=ERRORS)
def assessments(request: Request) -> list[AssessmentView]:
    """Every assessment (interviewers)."""
    state, session = _state(request), _session(request)
    require_kind(session, "interviewer")
    return [assessment_view(state.store, a) for a in state.store.assessments()]


@router.get("/assessments/{assessment_id}/submissions", response_model=list[SubmissionView], responses=ERRORS)
def assessment_submissions(assessment_id: str, request: Request) -> list[SubmissionView]:
    """Every submission of an assessment, oldest first (interviewers)."""
    state, session = _state(request), _session(request)
    require_kind(session, "interviewer")
    state.store.assessment(assessment_id)
    return [submission_view(state.store, state.config, r, session.principal, detail=False)
            for r in state.store.submissions(assessment_id=assessment_id)]


@router.get("/assessments/{assessment_id}/cohort.csv", response_class=PlainTextResponse, responses=ERRORS)
def cohort_csv(assessment_id: str, request: Request) -> PlainTextResponse:
    """The cohort as CSV: every submission, with its figures (interviewers)."""
    state, session = _state(request), _session(request)
    require_kind(session, "interviewer")
    assessment = state.store.assessment(assessment_id)
    return PlainTextResponse(cohort.to_csv(state.store, state.config, assessment), media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="cohort-{assessment_id}.csv"'})


@router.get("/queue", response_model=QueueView, responses=ERRORS)
def queue(request: Request) -> QueueView:
    """How many gradings wait and run, and how many workers grade them."""
    state = _state(request)
    _session(request)
    return state.queue_view()
