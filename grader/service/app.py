"""The FastAPI application of ``grader serve``: the JSON API under ``/api`` (documented at ``/docs`` and
``/openapi.json``), the pages beside it, and one error handler that turns every :class:`GraderError` into
its status with the message and fix (JSON for the API, a page for a browser)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader.errors import GraderError, UsageError
from grader.service import api, pages
from grader.service.config import ServiceConfig
from grader.service.state import State
from grader.version import __version__

log = logging.getLogger("grader.service")


def status_of(exc: GraderError) -> int:
    code = getattr(exc, "status_code", None)
    if isinstance(code, int):
        return code
    return 400 if isinstance(exc, UsageError) else 500


def create_app(config: ServiceConfig, *, start: Callable[[State], None] | None = None) -> FastAPI:
    """The application on ``config``: the database is migrated and the dispatcher started when it starts
    (``start``: what to start instead, for tests of the web layer alone), and stopped with it."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = State.open(config)
        app.state.grader = state
        (start or State.start)(state)
        log.info("grader service ready: data in %s, gradings %s", config.data,
                 f"on the queue at {config.queue}" if config.queue else f"on {config.workers} local worker(s)")
        try:
            yield
        finally:
            state.stop()

    # FastAPI's own /docs and /redoc load their scripts from a CDN, which an offline deployment cannot reach:
    # /docs is the service's own page, made from the same schema (pages.api_docs).
    app = FastAPI(title="grader", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Hand in machine-learning take-home submissions, follow their grading and read the "
                              "reports. Authenticate with `Authorization: Bearer <token>` (from `grader admin "
                              "invite` or `grader admin interviewer create`).")
    app.include_router(api.router)
    app.include_router(pages.router)

    @app.exception_handler(GraderError)
    async def grader_error(request: Request, exc: GraderError) -> Response:
        code = status_of(exc)
        if code >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.message, "hint": exc.hint}, status_code=code,
                                headers={"WWW-Authenticate": "Bearer"} if code == 401 else None)
        return pages.error_page(request, exc, code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Routing's own refusals (no such path, another method): the API's ``{"detail", "hint"}`` too."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": f"{request.method} {request.url.path}: {exc.detail}",
                                 "hint": "see /docs for the API's endpoints and their methods"},
                                status_code=exc.status_code, headers=exc.headers)
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        error = UsageError(f"the request is not well formed: {problems}", "see /docs for each endpoint's fields")
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": error.message, "hint": error.hint}, status_code=422)
        return pages.error_page(request, error, 422)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        """A bug or a failing disk: the same shape of answer as every refusal, the details in the server log."""
        log.error("%s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        error = GraderError(f"the server failed on this request ({type(exc).__name__}); if it was an upload, "
                            "nothing was kept", "try again; if it keeps failing, tell the operator (the server log "
                            "has the details)")
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": error.message, "hint": error.hint}, status_code=500)
        return pages.error_page(request, error, 500)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable) -> Response:  # type: ignore[type-arg]
        response: Response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return response

    return app
