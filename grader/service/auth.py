"""Who is asking: a bearer token (``Authorization: Bearer ...``) or the session cookie an invitation link
or the sign-in form sets. Requests that change something and come with the cookie must carry the CSRF token
of that session; a bearer token is never sent by a browser on its own, so it needs none."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import Request

from grader.service import tokens
from grader.service.errors import Forbidden, Unauthorized
from grader.service.store import Principal, Store

COOKIE = "grader_token"
#: The double-submit cookie of the sign-in form (shown before there is a session).
LOGIN_CSRF_COOKIE = "grader_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SIGN_IN_HINT = ("open the invitation link you were sent, or send the token as 'Authorization: Bearer <token>'; "
                "`grader admin invite` and `grader admin interviewer create` make tokens")


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str
    via: Literal["bearer", "cookie"]

    @property
    def csrf(self) -> str:
        return tokens.csrf_for(self.token)


def session_of(request: Request, store: Store) -> Session | None:
    """The request's session; None when it names no token. An unknown token is :class:`Unauthorized`."""
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("the Authorization header is not 'Bearer <token>'", SIGN_IN_HINT)
        via: Literal["bearer", "cookie"] = "bearer"
        token = token.strip()
    else:
        token = request.cookies.get(COOKIE, "")
        via = "cookie"
        if not token:
            return None
    principal = store.principal(token)
    if principal is None:
        raise Unauthorized("that token is not known here (mistyped, or from another server?)", SIGN_IN_HINT)
    return Session(principal, token, via)


def require(request: Request, store: Store) -> Session:
    found = session_of(request, store)
    if found is None:
        raise Unauthorized("sign in first: this needs a candidate's or an interviewer's token", SIGN_IN_HINT)
    return found


def require_kind(session: Session, kind: Literal["candidate", "interviewer"]) -> None:
    if session.principal.kind != kind:
        raise Forbidden(f"only {kind}s may do this; you are signed in as {session.principal.kind} "
                        f"{session.principal.name!r}", None)


def check_csrf(session: Session, given: str | None) -> None:
    """Refuse a cookie-authenticated change without its session's CSRF token."""
    if session.via == "cookie" and not tokens.csrf_ok(session.token, given):
        raise Forbidden("the form's CSRF token is missing or does not match this session",
                        "reload the page and send the form again; API clients use 'Authorization: Bearer <token>'")
