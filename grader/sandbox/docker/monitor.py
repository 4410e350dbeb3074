"""Watching a running container: peak memory, the process count, and a run held at its pids limit.

The engine's stats stream gives one sample a second (it cannot be asked more often). OOM is not
watched here: the engine records it in ``State.OOMKilled``. A fork bomb is: once the process count
has reached the limit and stayed near it for :data:`~grader.sandbox.base.PIDS_STOP_AFTER_S`, the
container is killed, so a run that exhausted its process limit ends within seconds (reported as
``pids_exhausted``) instead of holding its sandbox until the timeout.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from grader.sandbox.base import PIDS_STOP_AFTER_S, pids_near_limit

MiB = 1024 * 1024


class PidsWatch:
    """Decides, sample by sample, when a process count held at its limit means "stop the run"."""

    def __init__(self, limit: int, stop_after_s: float = PIDS_STOP_AFTER_S) -> None:
        self.limit, self.stop_after_s = limit, stop_after_s
        self.peak: int | None = None
        self.exhausted = False
        self._near_since: float | None = None

    def sample(self, count: int, at: float, limit: int | None = None) -> bool:
        """Record a count seen at monotonic time ``at``; True when the run should be stopped now."""
        limit = limit or self.limit
        self.peak = max(self.peak or 0, count)
        if count >= limit:
            self.exhausted = True
        if not pids_near_limit(count, limit):
            self._near_since = None
            return False
        if self._near_since is None:
            self._near_since = at
        return self.exhausted and at - self._near_since >= self.stop_after_s


class StatsFollower:
    """Follows the engine's stats stream in a daemon thread; stops the container held at its pids limit.

    Records the peak memory (cgroup v1 ``max_usage``, else the largest ``usage`` seen) and the
    process count. The stream ends when the container stops; the thread never blocks the run.
    ``stop`` is called (from the thread) to end a run held at its process limit; ``stopped`` then
    says it was.
    """

    def __init__(self, api: Any, container: str, pids_limit: int, stop: Callable[[], None] | None = None) -> None:
        self.api, self.container = api, container
        self.pids = PidsWatch(pids_limit)
        self.peak_bytes: int | None = None
        self.stopped = False
        self.error: str | None = None
        self._stop_run = stop
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._follow, name=f"stats-{container[:12]}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()

    @property
    def pids_peak(self) -> int | None:
        return self.pids.peak

    @property
    def pids_exhausted(self) -> bool:
        return self.pids.exhausted

    @property
    def peak_mb(self) -> float | None:
        return None if self.peak_bytes is None else round(self.peak_bytes / MiB, 1)

    def _follow(self) -> None:
        try:
            for sample in self.api.stats(self.container, stream=True, decode=True):
                if self._done.is_set():
                    return
                pids = sample.get("pids_stats") or {}
                memory = sample.get("memory_stats") or {}
                if not pids and not memory:  # the container stopped
                    return
                used = memory.get("max_usage") or memory.get("usage")
                if used is not None:
                    self.peak_bytes = max(self.peak_bytes or 0, int(used))
                current = pids.get("current")
                if current is not None and self.pids.sample(int(current), time.monotonic(),
                                                            int(pids.get("limit") or 0) or None):
                    if not self.stopped and self._stop_run is not None:
                        self.stopped = True
                        self._stop_run()
        except Exception as exc:  # noqa: BLE001 - stats are a bonus; the run's outcome does not need them
            if not self._done.is_set():
                self.error = f"{type(exc).__name__}: {exc}"


_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_time(value: str | None) -> datetime | None:
    """An engine timestamp (nanoseconds, ``Z``), None for the zero time or anything else."""
    match = _TIMESTAMP.match(value or "")
    if not match or match.group(1).startswith("0001"):
        return None
    fraction = (match.group(2) or ".0")[:7].ljust(7, "0")
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    return datetime.fromisoformat(match.group(1) + fraction + zone)


def duration(state: dict[str, Any], fallback: float) -> float:
    """Seconds the command ran, from the engine's start/finish times (the API's overhead excluded)."""
    started, finished = parse_time(state.get("StartedAt")), parse_time(state.get("FinishedAt"))
    if started is None or finished is None or finished < started:
        return round(fallback, 3)
    return round((finished - started).total_seconds(), 3)


__all__ = ["PidsWatch", "StatsFollower", "duration", "parse_time"]
