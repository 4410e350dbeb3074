"""Gradings of the service: dispatched to local workers (threads, each with its own ``Grader`` and sandbox,
as ``grader batch`` runs them) or to the queue's ``grader worker`` processes, retried when the
infrastructure fails, taken back when their server dies, and reaped when they run past their deadline.

The database is the only state: a submission is ``queued`` until a worker claims it, so a restart loses
nothing. Local gradings beat a heartbeat; one whose heartbeat stops (its server was killed) is queued again
by whichever server notices first. Every settle is conditional on the grading still being the settler's,
so a grading ends once, whoever else tried.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GraderError
from grader.grading.batch import error_report
from grader.grading.pipeline import Grader
from grader.report.format import points
from grader.report.write import read_report, swap_in
from grader.service.config import HEARTBEAT_S, ServiceConfig
from grader.service.db import Submission
from grader.service.store import Store
from grader.spec.report import Report
from grader.spec.task import discover_tasks, load_task

if TYPE_CHECKING:
    from redis import Redis

log = logging.getLogger("grader.service")

#: Added to a task's own phase timeouts for the reaper's line: image builds, scoring, reports, MLflow.
MARGIN_S = 600.0
#: What the service's queue jobs are filed under (their MLflow runs are tagged with it).
BATCH_ID = "service"


@cache
def _task_deadline_s(task_id: str) -> float:
    known = discover_tasks()
    if task_id not in known:
        return MARGIN_S
    try:
        task = load_task(known[task_id])
    except GraderError:
        return MARGIN_S
    runs = task.reproducibility.runs + (1 if task.reproducibility.other_seed is not None else 0)
    return (task.limits.train_timeout_s + task.limits.predict_timeout_s) * (runs + 1) + MARGIN_S


def first_failure(report: Report) -> str:
    """What went wrong first in a grading that did not end graded, for a one-line reason."""
    return report.failures[0].message if report.failures else "no reason recorded"


def settled(report: Report, tries: int, max_tries: int) -> tuple[str, str]:
    """The status and reason a finished grading's report gives its submission."""
    if report.status == "graded":
        verdict = report.verdict
        why = f": {'; '.join(verdict.reasons)}" if verdict.reasons else ""
        return "graded", f"graded: {verdict.phrase}, {points(report.score)} / 100{why}"
    first = first_failure(report)
    if report.status == "invalid":
        more = f" (and {len(report.failures) - 1} more problem(s))" if len(report.failures) > 1 else ""
        return "invalid", f"invalid: the submission breaks the contract, so it was not run: {first}{more}"
    return "error", (f"grader error on {tries} of {max_tries} tries: {first}. This is the grader's failure, says "
                     "nothing about your work and does not count against your attempts")


def waiting_reason(job_id: str, workers: int) -> str:
    """Why a queued job's submission waits: for a worker, or for one to be started at all."""
    if workers:
        return f"waiting in the queue for a grader worker (job {job_id}; {workers} worker(s) listening)"
    return (f"waiting in the queue for a grader worker (job {job_id}); no worker is listening to the queue right "
            "now, so nothing is graded until the operator starts `grader worker --queue URL`. Your submission is "
            "kept and will be graded then")


def _dead_here(owner: str) -> bool:
    """Whether ``owner`` (``host:pid:nonce``) was a server process of this machine that is gone."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, as another user
        return False
    return False


def _replace_folder(source: Path, folder: Path) -> None:
    """``source`` becomes ``folder`` in one rename (a reader sees the old report or the new one), keeping
    the interviewers' reviews of the old one."""
    from grader.rubric.review import REVIEWS_FILE

    if (folder / REVIEWS_FILE).is_file() and not (source / REVIEWS_FILE).exists():
        shutil.copy2(folder / REVIEWS_FILE, source / REVIEWS_FILE)
    swap_in(source, folder)


@dataclass
class Dispatcher:
    """Runs the service's gradings until :meth:`stop`. ``make_grader(progress)`` builds one worker's
    ``Grader`` (tests give a faster one)."""

    store: Store
    config: ServiceConfig
    make_grader: Callable[[Callable[[str], None]], Grader] | None = None
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}")
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _graders: list[Grader] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wake: threading.Event = field(default_factory=threading.Event)
    #: What each local worker grades now, by submission id: the reaper ends a stuck one through it.
    _busy: dict[str, Grader] = field(default_factory=dict)
    #: Graders whose sandbox was closed under a reaped grading: their worker makes a new one.
    _spent: set[int] = field(default_factory=set)
    _redis: Redis | None = None

    # -- life ---------------------------------------------------------------------------------------
    def start(self) -> None:
        for owner in self.store.local_owners():
            if _dead_here(owner):  # this machine's server that was killed: no need to wait for its heartbeat
                n = self.store.release(owner, f"the server grading it ({owner}) was gone when this one started; "
                                              "queued to be graded again from the start. This does not count "
                                              "against your attempts")
                log.warning("queued again %d grading(s) of %s, a server of this machine that is gone", n, owner)
        taken = self.store.take_back_stale(self.config.stale_after_s)
        if taken:
            log.warning("queued again %d grading(s) whose server stopped reporting: %s", len(taken), ", ".join(taken))
        if self.config.queue:
            from grader.queue.connection import connect

            self._redis = connect(self.config.queue)
            self._spawn("queue", self._queue_loop)
        else:
            for i in range(self.config.workers):
                self._spawn(f"grading-{i + 1}", self._work)
        self._spawn("housekeeping", self._housekeeping)

    def stop(self) -> None:
        """Stop taking gradings; the running ones are queued again (the next start grades them) and their
        sandboxes closed."""
        self._stop.set()
        self._wake.set()
        self._hand_back()
        for thread in self._threads:
            thread.join(timeout=10)
        # Again: a worker whose claim was under way as the stop began holds a grading the first round missed.
        self._hand_back()

    def _hand_back(self) -> None:
        """Queue this server's running gradings again and close its sandboxes (ending their runs)."""
        released = self.store.release(self.owner, "the server stopped during the grading; queued to be graded "
                                                   "again from the start when it is back. This does not count "
                                                   "against your attempts")
        if released:
            log.warning("queued again %d running grading(s) on the way out", released)
        with self._lock:
            graders = list(self._graders)
        for grader in graders:
            try:
                grader.sandbox.close()
            except Exception:  # noqa: BLE001 - pruned later by `grader sandbox prune`
                pass

    def wake(self) -> None:
        """Something was queued: idle workers look now."""
        self._wake.set()

    def queue_workers(self) -> int:
        """``grader worker`` processes listening on the queue (``--queue``)."""
        from rq import Worker

        from grader.queue.client import grading_queue

        if self._redis is None:
            return 0
        try:
            return Worker.count(queue=grading_queue(self._redis))
        except Exception:  # noqa: BLE001 - Redis away: no worker can be counted
            return 0

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            while not self._stop.is_set():
                try:
                    target()
                    return
                except Exception:  # noqa: BLE001 - a loop's bug is logged, and the loop goes on
                    log.exception("the %s loop failed; starting it again", name)
                    self._stop.wait(1.0)
        thread = threading.Thread(target=guarded, name=f"grader-{name}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def deadline_s(self, assessment_id: str) -> float:
        if self.config.grading_timeout_s is not None:
            return self.config.grading_timeout_s
        return _task_deadline_s(self.store.assessment(assessment_id).task_id)

    # -- housekeeping: heartbeats, dead servers' gradings, the reaper ---------------------------------
    def _housekeeping(self) -> None:
        last_beat = 0.0
        while not self._stop.wait(self.config.poll_s):
            if time.monotonic() - last_beat >= HEARTBEAT_S:
                self.store.heartbeat(self.owner)
                last_beat = time.monotonic()
            for submission_id in self.store.take_back_stale(self.config.stale_after_s):
                log.warning("submission %s: its server stopped reporting; queued again", submission_id)
            for submission_id in self.store.reap():
                log.warning("submission %s: past its deadline; moved to error", submission_id)
                self._end_reaped(submission_id)

    def _end_reaped(self, submission_id: str) -> None:
        """A reaped grading of this server's: close its sandbox, so its worker is free for the next one."""
        with self._lock:
            grader = self._busy.get(submission_id)
            if grader is None:
                return
            self._spent.add(id(grader))
        try:
            grader.sandbox.close()
        except Exception:  # noqa: BLE001 - pruned later by `grader sandbox prune`
            log.exception("closing the sandbox of reaped submission %s failed", submission_id)

    # -- local workers ------------------------------------------------------------------------------
    def _new_grader(self, current: list[str]) -> Grader:
        def progress(message: str) -> None:
            if current:
                self.store.set_phase(current[0], self.owner, message)

        if self.make_grader is not None:
            grader = self.make_grader(progress)
        else:
            from grader.integrations.mlflow import Tracking
            from grader.sandbox import get_backend

            tracking = Tracking(self.config.mlflow_uri, tags=(("grader.batch", BATCH_ID),)) if self.config.mlflow \
                else None
            grader = Grader(get_backend(self.config.sandbox), progress=progress, tracking=tracking)
        with self._lock:
            self._graders.append(grader)
        return grader

    def _work(self) -> None:
        current: list[str] = []
        grader: Grader | None = None
        while not self._stop.is_set():
            row = self.store.claim(self.owner, deadline_s=self.deadline_s, exclude_jobs=True)
            if row is None:
                self._wake.wait(self.config.poll_s)
                self._wake.clear()
                continue
            if grader is None:
                grader = self._new_grader(current)
            current[:] = [row.id]
            with self._lock:
                self._busy[row.id] = grader
            try:
                self._grade(grader, row)
            finally:
                current.clear()
                with self._lock:
                    self._busy.pop(row.id, None)
                    if id(grader) in self._spent:  # its sandbox was closed under it: the next grading gets anew
                        self._spent.discard(id(grader))
                        self._graders.remove(grader)
                        grader = None

    def _grade(self, grader: Grader, row: Submission) -> None:
        assessment = self.store.assessment(row.assessment_id)
        candidate = self.store.candidate(row.candidate_id)
        folder = self.config.report_dir(row.id)
        folder.parent.mkdir(parents=True, exist_ok=True)
        incoming = Path(tempfile.mkdtemp(prefix=".report.incoming-", dir=folder.parent))
        try:
            try:
                upload = self.config.upload_path(row)
                if not upload.is_file():  # the service lost it: never the candidate's fault, so not `invalid`
                    raise GraderError(f"the stored upload {upload} is missing", "restore it from a backup of the "
                                      "service's --data folder; the candidate may hand in again meanwhile")
                report = grader.grade(upload, task_id=assessment.task_id, out_dir=incoming,
                                      candidate=candidate.name, origin=row.filename)
            except Exception as exc:  # noqa: BLE001 - a grader bug is this submission's error, never the server's
                report = error_report(incoming, row.filename, candidate.name, assessment.task_id,
                                      f"{type(exc).__name__}: {exc}")
            if self._stop.is_set():
                return  # released by stop(): graded again from the start by the next server
            self._settle(row, report, incoming, folder)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _settle(self, row: Submission, report: Report, incoming: Path, folder: Path) -> None:
        if report.status == "error" and row.tries < self.config.max_tries:
            first = first_failure(report)
            self.store.retry(row.id, self.owner,
                             f"try {row.tries} of {self.config.max_tries} failed for the grader's own reasons "
                             f"({first}); queued to be graded again. This does not count against your attempts")
            return
        status, reason = settled(report, row.tries, self.config.max_tries)
        # The report is placed first: a submission that reads as settled always has its report.
        if self.store.submission(row.id).owner != self.owner:
            return  # reaped or taken over meanwhile: that decision stands
        _replace_folder(incoming, folder)
        if not self.store.finish(row.id, self.owner, status, reason, outcome=report.verdict.outcome,
                                 score=report.score, passed=report.passed):
            log.warning("submission %s was settled elsewhere while this server graded it", row.id)
            if self.store.submission(row.id).status == "error":  # reaped between the look and the settle
                shutil.rmtree(folder, ignore_errors=True)

    # -- the queue (--queue) ------------------------------------------------------------------------
    def _queue_loop(self) -> None:
        while not self._stop.wait(self.config.poll_s):
            try:
                self._enqueue_waiting()
                self._follow_jobs()
            except Exception as exc:  # noqa: BLE001 - Redis away: the jobs go on, the next round catches up
                from grader.queue.client import redis_errors

                if not isinstance(exc, redis_errors()):
                    raise
                log.warning("the queue's Redis does not answer (%s); retrying", exc)
                self._stop.wait(2.0)

    def _enqueue_waiting(self) -> None:
        from grader.queue.client import enqueue_job, grading_queue
        from grader.queue.jobs import MAX_SUBMISSION_BYTES, GradingJob, key_of, pack
        from grader.submission.intake import stage

        for row in self.store.submissions(statuses=("queued",)):
            if row.job_id is not None:
                continue
            assessment = self.store.assessment(row.assessment_id)
            candidate = self.store.candidate(row.candidate_id)
            try:
                with tempfile.TemporaryDirectory(prefix="grader-service-enqueue-") as tmp:
                    staged = stage(self.config.upload_path(row), Path(tmp))
                    key = key_of(staged.root, staged.sha256, task_id=assessment.task_id)
                    archive = pack(staged.root, limit=MAX_SUBMISSION_BYTES, what=f"submission {row.id}",
                                   fix="leave data and trained models out of the submission")
            except GraderError as exc:  # this upload only: raised, it would stop the queue for every submission
                log.error("submission %s cannot be handed to the queue: %s", row.id, exc.message)
                hint = f" ({exc.hint})" if exc.hint else ""
                self.store.unqueueable(row.id, f"could not be handed to the queue: {exc.message}{hint}. This is "
                                               "the grader's failure and does not count against your attempts")
                continue
            job_id = f"svc-{row.id}-{row.tries + 1}"
            payload = GradingJob(name=candidate.name, origin=row.filename, batch_id=BATCH_ID,
                                 task_id=assessment.task_id, key=key, archive=archive)
            assert self._redis is not None
            enqueue_job(grading_queue(self._redis), payload, job_id)  # already there: enqueued before a restart
            self.store.enqueued(row.id, job_id, waiting_reason(job_id, self.queue_workers()))

    def _follow_jobs(self) -> None:
        from grader.queue.client import redis_errors

        rows = self.store.queued_jobs()
        workers = self.queue_workers() if rows else 0
        for row in rows:
            try:
                self._follow(row, workers)
            except Exception as exc:
                if isinstance(exc, redis_errors()):
                    raise
                log.exception("submission %s: its queue job's answer could not be read", row.id)
                self._unreadable(row, exc.message if isinstance(exc, GraderError) else f"{type(exc).__name__}: {exc}")

    def _unreadable(self, row: Submission, why: str) -> None:
        """One job whose answer cannot be read ends its submission in ``error``; the others go on."""
        assert row.job_id is not None
        self.store.job_finished(row.id, row.job_id, "error", f"queue job {row.job_id} came back, but its answer could "
                                f"not be read: {why}. This is the grader's failure and does not count against your "
                                "attempts", outcome="error", score=0.0, passed=False)

    def _follow(self, row: Submission, workers: int) -> None:
        """Bring one submission's row up to date with its queue job; ``workers``: how many listen now."""
        from rq.job import JobStatus

        from grader.queue.client import failure_reason, fetch_job
        from grader.queue.jobs import META_PHASE, RETRIES, attempt_of

        assert self._redis is not None and row.job_id is not None
        job = fetch_job(self._redis, row.job_id)
        if job is None:
            self.store.job_lost(row.id, row.job_id, f"the queue lost job {row.job_id} (Redis restarted without "
                                                    "its data?); queued again")
            return
        status = job.get_status(refresh=False)
        if status == JobStatus.QUEUED and row.status == "queued":
            self.store.explain_waiting(row.id, row.job_id, waiting_reason(row.job_id, workers))
        elif status == JobStatus.STARTED:
            worker = job.worker_name or "a worker"
            if row.status == "queued":
                self.store.job_started(row.id, row.job_id, worker, deadline_s=self.deadline_s(row.assessment_id),
                                       started=None)
            phase = job.meta.get(META_PHASE) or "starting"
            self.store.job_phase(row.id, row.job_id, f"{phase} (attempt {attempt_of(job)} of {RETRIES + 1})")
        elif status == JobStatus.FINISHED:
            self._job_finished(row, job)
        elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
            self.store.job_finished(row.id, row.job_id, "error",
                                    f"queue job {row.job_id} {status.value} after {attempt_of(job)} attempt(s): "
                                    f"{failure_reason(job)}. This does not count against your attempts",
                                    outcome="error", score=0.0, passed=False, worker=job.worker_name)

    def _job_finished(self, row: Submission, job: Any) -> None:
        from pydantic import ValidationError

        from grader.queue.jobs import GradingResult, unpack

        assert row.job_id is not None
        try:
            result = GradingResult.model_validate(job.return_value())
        except ValidationError as exc:
            self.store.job_finished(row.id, row.job_id, "error", f"queue job {row.job_id} came back without a "
                                    f"readable result: {exc}", outcome="error", score=0.0, passed=False)
            return
        folder = self.config.report_dir(row.id)
        folder.parent.mkdir(parents=True, exist_ok=True)
        incoming = Path(tempfile.mkdtemp(prefix=".report.incoming-", dir=folder.parent))
        try:
            unpack(result.folder, incoming)
            report = read_report(incoming)
            status, reason = settled(report, result.attempt, self.config.max_tries)
            _replace_folder(incoming, folder)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
        self.store.job_finished(row.id, row.job_id, status, reason, outcome=report.verdict.outcome,
                                score=report.score, passed=report.passed, worker=result.worker)
