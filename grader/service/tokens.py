"""Bearer tokens and CSRF tokens.

Tokens are 256-bit random strings shown once; only their SHA-256 is stored, so a copy of the database lets
nobody in. A form's CSRF token is derived from the session's own token (HMAC), so it needs no server state
and works the same on every server behind one database; a page on another site can neither read the
HttpOnly cookie nor compute it. Forms shown before sign-in use a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

CANDIDATE_PREFIX = "cand_"
INTERVIEWER_PREFIX = "intv_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_id() -> str:
    """A short random id for rows that appear in URLs (not guessable, so ids leak nothing about order)."""
    return secrets.token_hex(8)


def csrf_for(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"grader-csrf", hashlib.sha256).hexdigest()[:32]


def csrf_ok(token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_for(token), given or "")


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two optional strings (a double-submit cookie and its field)."""
    return bool(a) and bool(b) and hmac.compare_digest(a or "", b or "")
