"""The one way to reach the queue's Redis: URL checked, commands retried through a restart, errors that
say what to do."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from grader.errors import GraderError, UsageError

if TYPE_CHECKING:
    from redis import Redis

#: The RQ queue every grader enqueues to and works from.
QUEUE_NAME = "grader"
SCHEMES = ("redis", "rediss", "unix")
URL_HINT = "give --queue redis://HOST:PORT/DB (redis://:PASSWORD@HOST:PORT/DB with a password), or set GRADER_QUEUE"
#: How long a command keeps retrying while Redis is away (a restart takes a few seconds).
RECONNECT_S = 60.0


class QueueUnreachable(GraderError):
    """Redis does not answer; exit 4, like every infrastructure failure."""


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    """``url`` when it names a Redis server, else a usage error (exit 2) that says what to give."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or (parts.scheme != "unix" and not parts.hostname):
        raise UsageError(f"--queue {redacted(url)!r} is not a Redis URL", URL_HINT)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise UsageError(f"--queue {redacted(url)!r}: {exc}", URL_HINT) from None
    return url


def connect(url: str, *, reconnect_s: float = RECONNECT_S, blocking: bool = False) -> Redis:
    """A client for ``url`` that has answered a ping.

    Every command retries with backoff for about ``reconnect_s`` while the server is away, so a Redis
    restart is a pause, not a failure. ``blocking``: for a worker, whose dequeue waits on the socket for
    minutes (no read timeout); otherwise reads time out after 30 s.
    """
    from redis import Redis
    from redis.backoff import ExponentialBackoff, NoBackoff
    from redis.exceptions import (
        AuthenticationError,
        AuthenticationWrongNumberOfArgsError,
        RedisError,
        ResponseError,
    )
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from redis.retry import Retry

    check_url(url)
    probe = Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, retry=Retry(NoBackoff(), 0))
    try:  # once, without the retries: a wrong URL is said at once, not after a minute
        probe.ping()
    except (AuthenticationError, AuthenticationWrongNumberOfArgsError, ResponseError) as exc:
        if urlsplit(url).password is None:
            raise QueueUnreachable(f"the queue's Redis at {redacted(url)} asks for a password, and --queue has "
                                   "none", "give it in --queue: redis://:PASSWORD@HOST:PORT/DB") from None
        if isinstance(exc, AuthenticationError | AuthenticationWrongNumberOfArgsError):
            raise QueueUnreachable(f"the queue's Redis at {redacted(url)} refused the login ({exc})",
                                   "check the password in --queue: redis://:PASSWORD@HOST:PORT/DB") from None
        raise QueueUnreachable(f"the queue's Redis at {redacted(url)} refused the connection ({exc})",
                               "check the URL given to --queue") from None
    except RedisError as exc:
        raise QueueUnreachable(
            f"the queue's Redis at {redacted(url)} does not answer ({type(exc).__name__}: {exc})",
            "start it (`redis-server --appendonly yes`, docs/scaling.md), or check the host, port and password "
            "in --queue") from None
    finally:
        probe.close()
    cap = 2.0
    retry = Retry(ExponentialBackoff(cap=cap, base=0.1), retries=max(1, int(reconnect_s / cap)))
    return Redis.from_url(url, socket_connect_timeout=5, socket_timeout=None if blocking else 30,
                          retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError],
                          health_check_interval=15)
