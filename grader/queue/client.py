"""``grader batch --queue``: a cohort enqueued as grading jobs, and their report folders collected into
``--out`` as they finish, exactly as the local batch leaves them; and ``grader queue status``.

Enqueuing is idempotent: a job's id is its grading's identity (:class:`~grader.queue.jobs.JobKey`), RQ's
unique enqueue refuses a second one atomically, so the same submission (given twice, or by a re-run, or
by two people at once) is graded once. Collecting survives what a queue goes through: a job whose
worker died is put back (this process also looks for lapsed leases), Redis away for a while is waited
for, a job Redis lost (a restart without persistence) is enqueued again, and a re-run after Ctrl-C
collects what finished meanwhile.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import GraderError, SubmissionError
from grader.grading.batch import Entry, Listener, entry_of, error_report, read_existing, resumable, tell
from grader.queue.connection import QUEUE_NAME, QueueUnreachable, redacted
from grader.queue.jobs import (
    FUNCTION,
    JOB_TIMEOUT_S,
    MAX_SUBMISSION_BYTES,
    META_KEY,
    META_NAME,
    META_PHASE,
    META_RETRIES,
    RESULT_TTL_S,
    RETRIES,
    GradingJob,
    GradingResult,
    attempt_of,
    encode,
    key_of,
    pack,
    queue_job_of,
    unpack,
)
from grader.report.write import swap_in
from grader.spec.cohort import CohortEntry
from grader.spec.queue import FailedJob, QueueStatus, WorkerState
from grader.spec.report import Report
from grader.submission.intake import stage

if TYPE_CHECKING:
    from redis import Redis
    from rq import Queue
    from rq.job import Job, JobStatus

#: How long a waiting batch rides out a Redis that does not answer before it gives up (exit 4).
REDIS_AWAY_S = 600.0
POLL_S = 1.0
#: How long a waiting batch sees no worker on the queue before it says so.
NO_WORKER_NOTICE_S = 30.0


@dataclass
class Submitted:
    """One entry of the cohort after enqueuing: its job, or its result when there is nothing to wait for
    (a report kept from an earlier run, a submission refused before it could travel)."""

    entry: Entry
    job_id: str | None = None
    payload: GradingJob | None = None
    result: CohortEntry | None = None
    reused: bool = False


def grading_queue(redis: Redis) -> Queue:
    """The queue every grading job goes through (JSON-serialised: reading a job runs no code)."""
    from rq import Queue
    from rq.serializers import JSONSerializer

    return Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)


def redis_errors() -> tuple[type[Exception], ...]:
    """What a Redis that is away raises: worth waiting out, unlike any other error."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return RedisConnectionError, RedisTimeoutError


def enqueue_job(queue: Queue, payload: GradingJob, job_id: str) -> bool:
    """Enqueue ``payload`` as the grading job ``job_id`` (retried on the infrastructure's failures, its result
    kept for collecting); False when a job of that id is already there (the same grading)."""
    from rq.exceptions import DuplicateJobError
    from rq.job import Retry

    try:
        queue.enqueue(FUNCTION, encode(payload), job_id=job_id, unique=True, retry=Retry(max=RETRIES),
                      job_timeout=JOB_TIMEOUT_S, result_ttl=RESULT_TTL_S, failure_ttl=RESULT_TTL_S,
                      description=f"grade {payload.name}",
                      meta={META_NAME: payload.name, META_RETRIES: RETRIES, META_KEY: payload.key.model_dump()})
    except DuplicateJobError:
        return False
    return True


def fetch_job(redis: Redis, job_id: str) -> Job | None:
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from rq.serializers import JSONSerializer

    try:
        return Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    except NoSuchJobError:
        return None


def failure_reason(job: Job) -> str:
    """Why ``job`` failed, from its latest result (see :func:`reason_of`)."""
    latest = job.latest_result()
    return reason_of(latest.exc_string if latest is not None else None)


def reason_of(exc_string: str | None) -> str:
    """The error at the end of a job's traceback, in one line with its hint, without the module path:
    ``JobRefused: this worker runs grader 1.0 ... (hint: install ...)``."""
    lines = (exc_string or "").rstrip().splitlines()
    frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
    tail = lines[frames[-1] + 2:] if frames else lines
    tail = [line.strip() for line in tail if line.strip() and not set(line.strip()) <= set("^~ ")]
    if not tail:
        return "no reason recorded"
    head, *rest = tail
    name, sep, message = head.partition(": ")
    head = f"{name.rsplit('.', 1)[-1]}{sep}{message}" if sep and " " not in name else head
    return " ".join([head, *(f"({line})" if line.startswith("hint:") else line for line in rest)])


@dataclass
class QueueBatch:
    """Enqueues ``entries`` on the queue at ``redis`` and collects their reports into ``out_dir/<name>/``."""

    redis: Redis
    out_dir: Path
    batch_id: str
    task_id: str | None = None
    force: bool = False
    tasks_root: Path | None = None
    listener: Listener | None = None
    notice: Callable[[str], None] = print
    poll_s: float = POLL_S
    redis_away_s: float = REDIS_AWAY_S
    _shown: set[str] = field(default_factory=set)

    # -- enqueuing ----------------------------------------------------------------------------------

    def enqueue(self, entries: Sequence[Entry]) -> list[Submitted]:
        """Every entry enqueued, or its job found already there (queued, running or finished), or its
        result settled here (kept from --out, or refused before it could travel)."""
        queue = grading_queue(self.redis)
        return [self._enqueue(queue, entry) for entry in entries]

    def _enqueue(self, queue: Queue, entry: Entry) -> Submitted:
        folder = self.out_dir / entry.name
        with tempfile.TemporaryDirectory(prefix="grader-enqueue-") as tmp:
            try:
                staged = stage(entry.path, Path(tmp))
            except SubmissionError as exc:  # hostile or broken archive: invalid, as `grader grade` says
                report = error_report(folder, str(entry.path), entry.name, self.task_id, str(exc), invalid=True)
                return Submitted(entry, result=entry_of(entry, report))
            earlier = read_existing(folder)
            if not self.force and resumable(earlier, staged.sha256, tasks_root=self.tasks_root, task_id=self.task_id):
                assert earlier is not None
                return Submitted(entry, result=entry_of(entry, earlier, resumed=True))
            key = key_of(staged.root, staged.sha256, task_id=self.task_id, tasks_root=self.tasks_root)
            try:
                archive = pack(staged.root, limit=MAX_SUBMISSION_BYTES, what=f"submission {entry.name}",
                               fix="leave data and trained models out of the submission: it is trained in the "
                                   "sandbox")
            except GraderError as exc:
                report = error_report(folder, str(entry.path), entry.name, self.task_id, str(exc), invalid=True,
                                      submission=staged.root)
                return Submitted(entry, result=entry_of(entry, report))
        payload = GradingJob(name=entry.name, origin=str(entry.path), batch_id=self.batch_id, task_id=self.task_id,
                             key=key, archive=archive)
        reused = self._submit(queue, payload, earlier=earlier)
        return Submitted(entry, job_id=key.job_id, payload=payload, reused=reused)

    def _submit(self, queue: Queue, payload: GradingJob, *, earlier: Report | None = None,
                again: bool = False) -> bool:
        """Enqueue ``payload``'s job unless it is already there; True when it was (nothing enqueued).
        ``earlier``: the report already in its --out folder. ``again``: it was lost (Redis forgot it),
        enqueue it whatever its state.

        A job that ended (finished or failed) is collected, not graded again, unless its error report is
        already in --out (a re-run after an infrastructure failure grades it again, as a local batch does)
        or --force.
        """
        from rq.job import JobStatus

        job_id = payload.key.job_id
        existing = fetch_job(self.redis, job_id)
        collected_error = (earlier is not None and earlier.status == "error" and earlier.environment.queue is not None
                           and earlier.environment.queue.job_id == job_id)
        if existing is not None and not again:
            status = existing.get_status(refresh=False)
            running = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
            if status == JobStatus.FINISHED and collected_error:  # that error, or a grading since to collect?
                value = existing.return_value()
                collected_error = not isinstance(value, dict) or value.get("status") == "error"
            if status in running or not (self.force or collected_error):
                return True
        if existing is not None:
            existing.delete()  # its error collected already, or --force: graded afresh
        # Not enqueued: another batch enqueued it between the look and now, the same grading.
        return not enqueue_job(queue, payload, job_id)

    # -- collecting ---------------------------------------------------------------------------------

    def collect(self, submitted: Sequence[Submitted]) -> list[CohortEntry]:
        """Wait for every job and write its report folder(s); every entry's result, in the order given.

        Raises :class:`QueueUnreachable` when Redis stays away longer than ``redis_away_s`` (the jobs go
        on; the same command collects later) and KeyboardInterrupt on Ctrl-C (likewise).
        """
        from rq import Worker
        from rq.job import JobStatus

        results: dict[str, CohortEntry] = {}
        waiting: dict[str, list[Submitted]] = {}
        for item in submitted:
            if item.result is not None:
                results[item.entry.name] = item.result
                self._tell("finished", item.entry, item.result)
            else:
                assert item.job_id is not None
                waiting.setdefault(item.job_id, []).append(item)
        queue = grading_queue(self.redis)
        away_since: float | None = None
        lonely_since, told_lonely = time.monotonic(), False
        while waiting:
            try:
                queue.started_job_registry.cleanup()  # a dead worker's lapsed lease: back in the queue now
                if Worker.count(queue=queue):
                    lonely_since, told_lonely = time.monotonic(), False
                elif not told_lonely and time.monotonic() - lonely_since > NO_WORKER_NOTICE_S:
                    told_lonely = True
                    self.notice(f"no worker has taken jobs from this queue for {NO_WORKER_NOTICE_S:.0f} s: start "
                                "`grader worker --queue URL` on a machine with a Docker engine (Ctrl-C stops "
                                "waiting; the jobs stay queued)")
                for job_id, items in list(waiting.items()):
                    job = fetch_job(self.redis, job_id)
                    if job is None:
                        self.notice(f"the queue lost job {job_id} of {items[0].entry.name} (Redis restarted "
                                    "without persistence?): enqueued again")
                        assert items[0].payload is not None
                        self._submit(queue, items[0].payload, again=True)
                        continue
                    status = job.get_status(refresh=False)
                    if status == JobStatus.FINISHED:
                        self._finished(job, items, results)
                    elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED):
                        self._failed(job, status, items, results)
                    elif status == JobStatus.STARTED:
                        self._running(job, items)
                    else:
                        continue
                    if items[0].entry.name in results:
                        del waiting[job_id]
                if away_since is not None:
                    self.notice("Redis answers again: collecting")
                    away_since = None
            except redis_errors() as exc:
                now = time.monotonic()
                if away_since is None:
                    away_since = now
                    self.notice(f"Redis does not answer ({exc}); retrying for up to {self.redis_away_s:.0f} s, "
                                "the workers go on grading")
                elif now - away_since > self.redis_away_s:
                    raise QueueUnreachable(
                        f"the queue's Redis has not answered for {now - away_since:.0f} s; "
                        f"{len(waiting)} job(s) not collected",
                        "once Redis is back, run the same command again: it collects what finished") from None
            if waiting:
                time.sleep(self.poll_s)
        return [results[item.entry.name] for item in submitted]

    def _running(self, job: Job, items: list[Submitted]) -> None:
        for item in items:
            if item.entry.name not in self._shown:
                self._shown.add(item.entry.name)
                self._tell("started", item.entry)
            phase = job.meta.get(META_PHASE) or "starting"
            self._tell("phase", item.entry, f"{phase} · {job.worker_name or 'a worker'}, attempt {attempt_of(job)}")

    def _finished(self, job: Job, items: list[Submitted], results: dict[str, CohortEntry]) -> None:
        from pydantic import ValidationError

        try:
            result = GradingResult.model_validate(job.return_value())
        except ValidationError as exc:
            self._settle_error(items, results, f"job {job.id} came back without a readable result: {exc}", job)
            return
        for item in items:
            self._place(result.folder, self.out_dir / item.entry.name)
            report = read_existing(self.out_dir / item.entry.name)
            if report is None:
                self._settle_error([item], results, f"job {job.id} came back without a report.json", job)
                continue
            results[item.entry.name] = entry_of(item.entry, report)
            self._tell("finished", item.entry, results[item.entry.name])

    def _failed(self, job: Job, status: JobStatus, items: list[Submitted], results: dict[str, CohortEntry]) -> None:
        why = failure_reason(job)
        self._settle_error(items, results,
                           f"queue job {job.id} {status.value} after {attempt_of(job)} attempt(s): {why}", job)

    def _settle_error(self, items: list[Submitted], results: dict[str, CohortEntry], message: str, job: Job) -> None:
        """Each item's error report, written here, naming its job (so a re-run knows to grade it again)."""
        queue_job = queue_job_of(job, host="unknown")
        for item in items:
            report = error_report(self.out_dir / item.entry.name, str(item.entry.path), item.entry.name, self.task_id,
                                  message, queue=queue_job)
            results[item.entry.name] = entry_of(item.entry, report)
            self._tell("finished", item.entry, results[item.entry.name])

    def _place(self, packed: str, folder: Path) -> None:
        """The report folder unpacked beside ``folder``, then put in its place in one rename: a reader of
        --out sees the old report or the new one, never half of one."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        incoming = Path(tempfile.mkdtemp(prefix=f".{folder.name}.incoming-", dir=self.out_dir))
        umask = os.umask(0)
        os.umask(umask)
        incoming.chmod(0o777 & ~umask)  # as a folder `grader grade` makes, not mkdtemp's private one
        try:
            unpack(packed, incoming)
            swap_in(incoming, folder)
        finally:
            shutil.rmtree(incoming, ignore_errors=True)

    def _tell(self, what: str, entry: Entry, *args: object) -> None:
        tell(self.listener, what, entry, *args)


# -- status ---------------------------------------------------------------------------------------

def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment is not None else None


def status(redis: Redis, url: str, *, max_failures: int = 50) -> QueueStatus:
    """The queue's workers, counts, and its failed jobs (newest ``max_failures``) with their reasons."""
    from rq import Worker

    queue = grading_queue(redis)
    workers = []
    for worker in sorted(Worker.all(queue=queue), key=lambda w: w.name):
        job_id = worker.get_current_job_id()
        job = None if job_id is None else fetch_job(redis, job_id)
        busy = worker.get_state() == "busy" or job_id is not None
        since = job.started_at if job is not None else worker.birth_date
        workers.append(WorkerState(name=worker.name, pid=worker.pid, host=worker.hostname,
                                   state="busy" if busy else "idle", job=job_id,
                                   submission=job.meta.get(META_NAME) if job is not None else None,
                                   since=_iso(since)))
    failed_ids = queue.failed_job_registry.get_job_ids()
    failures = []
    for job_id in failed_ids[-max_failures:]:
        job = fetch_job(redis, job_id)
        failures.append(FailedJob(job=job_id, submission=job.meta.get(META_NAME) if job is not None else None,
                                  reason=failure_reason(job) if job is not None else reason_of(None)))
    return QueueStatus(queue=redacted(url), workers=workers, queued=queue.count,
                       running=queue.started_job_registry.count, failed=len(failed_ids),
                       finished=queue.finished_job_registry.count, failures=failures)
