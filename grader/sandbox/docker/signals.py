"""Signals while a run is in progress: they interrupt it, and cleanup is not interrupted by them.

SIGTERM and SIGHUP become :class:`SandboxTerminated` while a run is in progress (SIGINT already
raises ``KeyboardInterrupt``); signals are deferred while cleaning up (a second one of a kind
aborts the cleanup). Handlers are only installed from the main thread; ignored signals stay ignored.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterable, Iterator
from typing import Any

_RAISING_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)


class SandboxTerminated(SystemExit):
    """SIGTERM or SIGHUP reached the grader during a run; exits with 128 + signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"terminated by {signal.Signals(self.signum).name} during a sandbox run"


def signal_exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else SandboxTerminated(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """While a run is in progress, SIGTERM/SIGHUP raise :class:`SandboxTerminated` (main thread)."""
    def handler(signum: int, frame: object) -> None:
        raise SandboxTerminated(signum)

    with _handlers(_RAISING_SIGNALS, handler):
        yield


@contextlib.contextmanager
def signals_deferred() -> Iterator[list[int]]:
    """Hold SIGINT/SIGTERM/SIGHUP back while cleaning up; a second one of a kind aborts the cleanup.

    Yields the list of signals that arrived; the caller decides whether to raise for them.
    """
    pending: list[int] = []

    def handler(signum: int, frame: object) -> None:
        pending.append(signum)
        if pending.count(signum) >= 2:
            raise signal_exception(signum)

    with _handlers((signal.SIGINT, *_RAISING_SIGNALS), handler):
        yield pending


@contextlib.contextmanager
def _handlers(signums: Iterable[int], handler: Any) -> Iterator[None]:
    """Install ``handler`` for ``signums`` (main thread only; ignored signals stay ignored), then restore."""
    previous: dict[int, Any] = {}
    if _in_main_thread():
        for signum in signums:
            current = signal.getsignal(signum)
            if current is signal.SIG_IGN:
                continue
            previous[signum] = current
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, current in previous.items():
            signal.signal(signum, current if current is not None else signal.SIG_DFL)


__all__ = ["SandboxTerminated", "signal_exception", "signals_deferred", "signals_raise"]
