"""The pages, rendered on the server with the project's Jinja2 templates (no front-end build): sign-in,
the candidate's assessment and upload form, a submission's self-updating status page, and the
interviewers' assessments, cohort and review form. Every form carries its session's CSRF token."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markdown_it import MarkdownIt
from starlette.concurrency import run_in_threadpool

from grader.errors import GraderError
from grader.report.format import points
from grader.report.write import read_report
from grader.rubric import engine
from grader.rubric.review import load as load_reviews
from grader.service import cohort
from grader.service.api import file_response, hand_in, visible_submission
from grader.service.auth import (
    COOKIE,
    LOGIN_CSRF_COOKIE,
    SIGN_IN_HINT,
    Session,
    check_csrf,
    require,
    require_kind,
    session_of,
)
from grader.service.errors import NotFound, Unauthorized
from grader.service.kit import kit_zip, task_text
from grader.service.state import State
from grader.service.store import TERMINAL
from grader.service.tokens import same
from grader.service.uploads import size_text
from grader.service.views import assessment_view, candidate_home, submission_view

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parents[1] / "templates" / "service"
#: Cookies last as long as an assessment might.
COOKIE_AGE_S = 60 * 24 * 3600


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("grader", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["points"] = points
    env.filters["when"] = when
    env.filters["mib"] = size_text
    return env


def when(at: datetime | str) -> str:
    """A moment as the pages show it: to the second, in UTC (an ISO 8601 string is parsed first)."""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("session", None)
    context.setdefault("error", None)
    html = environment().get_template(f"service/{template}").render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def error_page(request: Request, exc: GraderError, status_code: int, session: Session | None = None) -> HTMLResponse:
    if status_code == 401:
        return login_page(request, exc)
    return render(request, "error.html.j2", status_code, session=session, code=status_code, error=exc)


def login_page(request: Request, error: GraderError | None = None) -> HTMLResponse:
    value = secrets.token_urlsafe(16)
    response = render(request, "login.html.j2", 401 if error else 200, error=error, login_csrf=value)
    response.set_cookie(LOGIN_CSRF_COOKIE, value, httponly=True, samesite="strict", secure=_secure(request))
    return response


def _state(request: Request) -> State:
    return request.app.state.grader


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _signed_in(request: Request, token: str, to: str = "/") -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(COOKIE, token, max_age=COOKIE_AGE_S, httponly=True, samesite="lax", secure=_secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@cache
def _markdown() -> MarkdownIt:
    # Raw HTML in a task's README stays text; its tables (the data's columns, the limits) are tables.
    return MarkdownIt("commonmark", {"html": False}).enable("table")


# -- signing in ---------------------------------------------------------------------------------------

@router.get("/invite/{token}")
def invite(token: str, request: Request) -> Response:
    """An invitation link: its token becomes the session cookie, and the link leaves the address bar."""
    if _state(request).store.principal(token) is None:
        raise Unauthorized("this invitation link is not valid here (mistyped, or the invitation was replaced)",
                           "ask your interviewer for a new link")
    return _signed_in(request, token)


@router.post("/login")
def login(request: Request, token: str = Form(""), csrf_token: str = Form("")) -> Response:
    if not same(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return login_page(request, Unauthorized("the sign-in form expired", "send it again"))
    if _state(request).store.principal(token.strip()) is None:
        return login_page(request, Unauthorized("that token is not known here", SIGN_IN_HINT))
    return _signed_in(request, token.strip())


@router.post("/logout")
def logout(request: Request, csrf_token: str = Form("")) -> Response:
    session = require(request, _state(request).store)
    check_csrf(session, csrf_token)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


# -- the start page -----------------------------------------------------------------------------------

@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    state = _state(request)
    session = session_of(request, state.store)
    if session is None:
        return login_page(request)
    if session.principal.kind == "interviewer":
        return render(request, "interviewer.html.j2", session=session, queue=state.queue_view(),
                      assessments=[assessment_view(state.store, a) for a in state.store.assessments()])
    return candidate_page(request, state, session)


def candidate_page(request: Request, state: State, session: Session, error: GraderError | None = None,
                   status_code: int = 200) -> HTMLResponse:
    home_view = candidate_home(state.store, state.config, session.principal)
    text = task_text(home_view.assessment.task_id)
    return render(request, "candidate.html.j2", status_code, session=session, home=home_view, error=error,
                  statement=_markdown().render(text.statement), questions=text.questions)


@router.get("/kit")
def kit(request: Request) -> FileResponse:
    """The candidate's starter kit (an interviewer: ``?task=ID``)."""
    state = _state(request)
    session = require(request, state.store)
    if session.principal.kind == "candidate":
        assert session.principal.assessment_id is not None
        task_id = state.store.assessment(session.principal.assessment_id).task_id
    else:
        task_id = request.query_params.get("task", "")
    path = kit_zip(task_id, state.config.kits_dir)
    return FileResponse(path, media_type="application/zip", filename=f"{task_id.replace('/', '-')}-starter-kit.zip")


@router.post("/submit")
async def submit(request: Request) -> Response:
    """The upload form: on success, the status page; on a refusal, the start page again with the reason."""
    state = _state(request)
    session = await run_in_threadpool(require, request, state.store)
    require_kind(session, "candidate")
    try:
        row = await hand_in(request, state, session, csrf_header=False)
    except GraderError as exc:
        code = getattr(exc, "status_code", 400)
        return await run_in_threadpool(candidate_page, request, state, session, exc, code)
    return RedirectResponse(f"/submissions/{row.id}", status_code=303)


# -- a submission -------------------------------------------------------------------------------------

@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def status_page(submission_id: str, request: Request) -> HTMLResponse:
    """A submission's status, updating by itself until the grading ends; then its result and report."""
    return _status_page(submission_id, request)


def _status_page(submission_id: str, request: Request, error: GraderError | None = None,
                 status_code: int = 200) -> HTMLResponse:
    state = _state(request)
    session = require(request, state.store)
    row = visible_submission(state, session, submission_id)
    view = submission_view(state.store, state.config, row, session.principal)
    review_form, reviews = None, []
    if session.principal.kind == "interviewer":
        back, back_label = f"/assessments/{row.assessment_id}", "The cohort"
        folder = state.config.report_dir(row.id)
        if row.status == "graded" and (folder / "report.json").is_file():
            report = read_report(folder)
            if report.rubric is not None:
                review_form = engine.criteria(report.rubric)
            reviews = [r for r in load_reviews(folder).reviews if r.submission_sha256 == report.submission.sha256]
    else:
        back, back_label = "/", "Your assessment"
    return render(request, "status.html.j2", status_code, session=session, s=view, back=back, back_label=back_label,
                  review_form=review_form, reviews=reviews, error=error)


@router.get("/submissions/{submission_id}/files/{name}")
def submission_file(submission_id: str, name: str, request: Request) -> FileResponse:
    state = _state(request)
    session = require(request, state.store)
    return _sandboxed(file_response(state, session, visible_submission(state, session, submission_id), name))


def _sandboxed(response: FileResponse) -> FileResponse:
    """Report pages show text the candidate wrote: they run in a sandboxed origin, away from the session."""
    response.headers["Content-Security-Policy"] = "sandbox allow-scripts allow-popups allow-downloads"
    return response


@router.post("/submissions/{submission_id}/review", response_class=HTMLResponse)
def review(submission_id: str, request: Request, criterion: str = Form(...), points: float = Form(...),
           note: str = Form(""), csrf_token: str = Form("")) -> Response:
    state = _state(request)
    session = require(request, state.store)
    require_kind(session, "interviewer")
    check_csrf(session, csrf_token)
    row = visible_submission(state, session, submission_id)
    try:
        state.review(row, criterion, points, note, session.principal.name)
    except GraderError as exc:
        return _status_page(submission_id, request, error=exc, status_code=getattr(exc, "status_code", 400))
    return RedirectResponse(f"/submissions/{submission_id}#review", status_code=303)


# -- interviewers: the cohort -------------------------------------------------------------------------

@router.get("/assessments/{assessment_id}", response_class=HTMLResponse)
def cohort_page(assessment_id: str, request: Request) -> HTMLResponse:
    state = _state(request)
    session = require(request, state.store)
    require_kind(session, "interviewer")
    assessment = state.store.assessment(assessment_id)
    members = cohort.members(state.store, assessment)
    has_compare = any(m.shown is not None and m.shown.status in TERMINAL for m in members)
    return render(request, "cohort.html.j2", session=session, assessment=assessment, members=members,
                  has_compare=has_compare)


@router.get("/assessments/{assessment_id}/compare/", response_class=HTMLResponse)
def compare_page(assessment_id: str, request: Request) -> HTMLResponse:
    state = _state(request)
    session = require(request, state.store)
    require_kind(session, "interviewer")
    page = cohort.compare_page(state.store, state.config, state.store.assessment(assessment_id))
    if page is None:
        raise NotFound("no grading of this cohort has ended yet", "come back once one has")
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/assessments/{assessment_id}/compare/{submission_id}/report/{name}")
def compare_link(assessment_id: str, submission_id: str, name: str, request: Request) -> FileResponse:
    """Where the compare table's links lead: a report file, relative to the table."""
    state = _state(request)
    session = require(request, state.store)
    require_kind(session, "interviewer")
    row = visible_submission(state, session, submission_id)
    if row.assessment_id != assessment_id:
        raise NotFound(f"submission {submission_id} is not of assessment {assessment_id}")
    return _sandboxed(file_response(state, session, row, name))


@router.get("/docs", response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """The API's reference, from its OpenAPI schema (``/openapi.json``), on one page that needs no network."""
    schema = request.app.openapi()
    endpoints = [{"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                  "description": op.get("description", ""),
                  "parameters": [p["name"] for p in op.get("parameters", [])],
                  "body": bool(op.get("requestBody")),
                  "responses": {code: r.get("description", "") for code, r in op.get("responses", {}).items()}}
                 for path, methods in schema["paths"].items() for method, op in methods.items()]
    return render(request, "docs.html.j2", info=schema["info"], endpoints=endpoints)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    media = {"service.css": "text/css", "service.js": "text/javascript"}
    if name not in media:
        raise NotFound(f"no static file {name!r}")
    return FileResponse(STATIC / name, media_type=media[name])
