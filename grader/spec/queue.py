"""``grader queue status --json``: who works the queue, how much waits, and why each failed job failed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from grader.spec.base import StrictModel


class WorkerState(StrictModel):
    name: str
    pid: int | None
    host: str | None
    state: Literal["idle", "busy"]
    job: str | None = Field(default=None, description="The job it grades now.")
    submission: str | None = Field(default=None, description="The submission of that job.")
    since: str | None = Field(default=None, description="When it started that job, or when it started (idle).")


class FailedJob(StrictModel):
    job: str
    submission: str | None
    reason: str = Field(description="The last line of its last error: what to fix.")


class QueueStatus(StrictModel):
    queue: str = Field(description="The Redis URL, without its password.")
    workers: list[WorkerState]
    queued: int
    running: int
    failed: int
    finished: int
    failures: list[FailedJob]
