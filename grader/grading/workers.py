"""Threads for the grading's work that runs beside its main thread (sandbox runs, the Dockerfile
build, opening the MLflow store): each is mostly waiting on the engine, so threads are enough.

They are daemon threads: a grader that is interrupted (Ctrl-C) must not wait at exit for a sandbox
run whose result nothing will read; closing the sandbox removes that run's containers.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import wait as wait_all
from pathlib import Path
from typing import Any, TypeVar

from grader.paths import cache_dir

T = TypeVar("T")

#: The machine-wide latency lock, in the grader's cache dir: every grader process of this user shares it.
LATENCY_LOCK = "latency.lock"


def host_cores() -> int:
    """The cores this process may run on (a container's cpuset, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def slots(cpus_per_run: float) -> int:
    """How many sandbox runs of ``cpus_per_run`` cores each fit in this host's cores at once."""
    return max(1, math.floor(host_cores() / max(cpus_per_run, 0.01)))


class Pool:
    """``size`` daemon threads taking jobs in the order they were submitted."""

    def __init__(self, size: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = queue.SimpleQueue()
        self._pending: list[Future[Any]] = []
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i + 1}", daemon=True)
                         for i in range(max(1, size))]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        self._pending.append(future)
        self._jobs.put((future, lambda: fn(*args)))
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for the result
                future.set_exception(exc)

    def stop(self, *, wait: bool) -> None:
        """Cancel the jobs not started yet; with ``wait``, return once the started ones have ended."""
        for future in self._pending:
            future.cancel()
        if wait:
            wait_all(self._pending)

    def close(self) -> None:
        """Let the threads end once their current job is done (never waits for them)."""
        for _ in self._threads:
            self._jobs.put(None)


def wait(futures: Iterable[Future[Any]]) -> None:
    """Return once every future is done (whatever its outcome)."""
    wait_all(list(futures))



def _flock(path: Path, mode: int) -> contextlib.AbstractContextManager[None]:
    @contextlib.contextmanager
    def held() -> Iterator[None]:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "a+b")  # noqa: SIM115 - closed below
        except OSError:  # no writable cache dir (a read-only home): grade unlocked rather than not at all
            yield
            return
        with handle:
            fcntl.flock(handle.fileno(), mode)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return held()


class MachineLock:
    """The machine-wide latency lock: ``flock`` on files in the grader's cache dir, shared by every grader
    process of this user (``grader batch`` workers, two ``grader grade`` at once). The kernel releases it
    when a process dies, so a killed grader never leaves it held.

    :meth:`timed` (exclusive) is held around a timed prediction: two timed phases never overlap. With
    ``quiet=True`` every other sandbox run of every grading holds :meth:`shared`, so the timed phase also
    waits for the trainings beside it to end and none starts until it is over: the machine is quiet while
    latency is measured, at the cost of throughput. A gate file keeps a waiting timed phase from being
    starved by a stream of shared holders.
    """

    def __init__(self, folder: Path | None = None, *, quiet: bool = False) -> None:
        folder = folder or cache_dir()
        self.path, self.gate, self.quiet = folder / LATENCY_LOCK, folder / f"{LATENCY_LOCK}.gate", quiet

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            with _flock(self.gate, fcntl.LOCK_EX):  # new shared holders wait from here on
                stack.enter_context(_flock(self.path, fcntl.LOCK_EX))
            yield

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        if not self.quiet:
            yield
            return
        with contextlib.ExitStack() as stack:
            with _flock(self.gate, fcntl.LOCK_EX):
                stack.enter_context(_flock(self.path, fcntl.LOCK_SH))
            yield
