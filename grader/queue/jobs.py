"""A grading job: what travels to a worker (the submission, packed, and the grading's identity), what comes
back (the report folder, packed), and :func:`grade_job`, the function a worker runs.

Both directions go through Redis, so both have a cap with an error that says what to do. A candidate's
failure (a timeout, a crash, OOM, an invalid submission) is a report and the job ends; only the
infrastructure's (a grader error, an engine that failed, a worker that died) is retried, and when the last
attempt fails too its error report, with the reason, is the result.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import signal
import socket
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field

from grader.errors import GraderError
from grader.spec.base import StrictModel
from grader.spec.report import Outcome, QueueJob, Report, Status
from grader.version import __version__

if TYPE_CHECKING:
    from rq.job import Job

#: The dotted name RQ imports on the worker.
FUNCTION = "grader.queue.jobs.grade_job"
#: Infrastructure failures retried after the first attempt (a worker that died counts as one).
RETRIES = 2
MAX_SUBMISSION_BYTES = 64 * 1024 * 1024
MAX_REPORT_BYTES = 32 * 1024 * 1024
#: A grading's bound on a worker (RQ stops the job after it); a task's own limits end it far sooner.
JOB_TIMEOUT_S = 3 * 3600
#: How long a finished job's report stays in Redis for `grader batch --queue` to collect.
RESULT_TTL_S = 14 * 24 * 3600
#: Environment of `grader worker` read by its jobs: the MLflow tracking URI, or "off".
MLFLOW_ENV = "GRADER_WORKER_MLFLOW"
META_NAME, META_PHASE, META_RETRIES, META_KEY = "grader.name", "grader.phase", "grader.retries", "grader.key"


class PackTooLarge(GraderError):
    """A submission or report folder above what a job may carry through Redis."""


class JobRefused(GraderError):
    """A worker that cannot grade this job as it was meant (another grader or task version)."""


class InfrastructureFailure(GraderError):
    """The grading ended in the grader's or the infrastructure's error with attempts left: RQ retries it."""


class JobKey(StrictModel):
    """What makes two gradings the same grading: the job id is made from it."""

    sha256: str
    task_id: str | None
    task_version: int | None
    rubric_version: int | None
    grader_version: str

    @property
    def job_id(self) -> str:
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()
        return f"grade-{digest[:32]}"


class GradingJob(StrictModel):
    """A job's argument (JSON in Redis: no pickle, so reading a job runs no code)."""

    version: int = 1
    name: str = Field(description="The submission's folder under --out.")
    origin: str = Field(description="The submission as given to `grader batch`, for its report.")
    batch_id: str
    task_id: str | None = Field(description="--task, when given: the task every submission is graded against.")
    key: JobKey
    archive: str = Field(description="The staged submission as a gzipped tar, base64.")


class GradingResult(StrictModel):
    """A job's return value: the verdict for the cohort, and the report folder to unpack into --out."""

    version: int = 1
    status: Status
    outcome: Outcome
    passed: bool
    score: float
    duration_s: float | None
    attempt: int
    worker: str
    folder: str = Field(description="The report folder as a gzipped tar, base64.")


def task_of(root: Path) -> str | None:
    """The task a staged submission's manifest names, or None when it names none readably (its grading
    says why)."""
    try:
        data = yaml.safe_load((root / "submission.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    task = data.get("task") if isinstance(data, dict) else None
    return task if isinstance(task, str) else None


def key_of(root: Path, sha256: str, *, task_id: str | None = None, tasks_root: Path | None = None) -> JobKey:
    """The key a submission staged at ``root`` is graded under now: its task (``task_id``, else its
    manifest's) at the version this machine has, that task's rubric version, and this grader's version."""
    from grader.spec.task import discover_tasks, load_task

    task = task_id or task_of(root)
    task_version = rubric_version = None
    known = discover_tasks(tasks_root)
    if task in known:
        try:
            spec = load_task(known[task])
            task_version, rubric_version = spec.version, spec.rubric_spec().version
        except GraderError:  # a task that does not load: the grading says why
            pass
    return JobKey(sha256=sha256, task_id=task, task_version=task_version, rubric_version=rubric_version,
                  grader_version=__version__)


# -- packing --------------------------------------------------------------------------------------

def _anonymous(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def pack(root: Path, *, limit: int, what: str, fix: str) -> str:
    """``root``'s files as a gzipped tar (sorted, without owners), base64; raises
    :class:`PackTooLarge` above ``limit`` bytes packed, naming ``what`` and how to ``fix`` it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                archive.add(path, arcname=path.relative_to(root).as_posix(), recursive=False, filter=_anonymous)
    data = buffer.getvalue()
    if len(data) > limit:
        raise PackTooLarge(f"the {what} is {len(data) / 2**20:.1f} MiB packed; a queue job carries at most "
                           f"{limit / 2**20:.0f} MiB through Redis", fix)
    return base64.b64encode(data).decode("ascii")


def unpack(packed: str, dest: Path) -> None:
    """A :func:`pack` into ``dest`` (created), refusing links, absolute paths and ``..`` (tarfile's
    ``data`` filter): what comes out of Redis is not trusted more than an upload."""
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(packed)), mode="r:gz") as archive:
        archive.extractall(dest, filter="data")


# -- on the worker --------------------------------------------------------------------------------

def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process (RQ's work horse) when its worker dies, as a lost machine would:
    a SIGKILLed worker must not leave a grading running that nobody waits for, while the queue grades the
    job again elsewhere. Its containers then stop at their own deadlines."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the horse outlives a killed worker there
        return
    if os.getppid() == 1:  # the worker died before the request took hold
        os._exit(1)


def attempt_of(job: Job) -> int:
    """Which attempt this execution of ``job`` is: 1, then 2 after a lost attempt, and so on."""
    retries = int(job.meta.get(META_RETRIES, RETRIES))
    return retries + 1 - (job.retries_left if job.retries_left is not None else retries)


def queue_job_of(job: Job, host: str) -> QueueJob:
    """What a report records of the queue ``job`` it was, graded (or settled) on ``host``."""
    return QueueJob(job_id=job.id, attempt=attempt_of(job), attempts_allowed=int(job.meta.get(META_RETRIES, RETRIES))
                    + 1, worker=job.worker_name or "unknown", host=host)


def _tracking(batch_id: str, job: Job, attempt: int) -> Any:
    from grader.integrations.mlflow import Tracking

    uri = os.environ.get(MLFLOW_ENV) or None
    if uri == "off":
        return None
    return Tracking(uri, tags=(("grader.batch", batch_id), ("grader.job", job.id), ("grader.attempt", str(attempt))))


def _check_versions(spec: GradingJob) -> None:
    from grader.spec.task import discover_tasks, load_task

    key = spec.key
    if key.grader_version != __version__:
        raise JobRefused(f"this worker runs grader {__version__}; the job was enqueued by grader "
                         f"{key.grader_version}", "install the same grader version on every worker and on the "
                         "machine that runs `grader batch --queue`")
    known = discover_tasks()
    if key.task_version is None or key.task_id not in known:
        return  # the grading says what is wrong with the task (or the submission's manifest)
    task = load_task(known[key.task_id])
    if task.version != key.task_version:
        raise JobRefused(f"this worker has task {task.id} version {task.version}; the job was enqueued for version "
                         f"{key.task_version}", "give every worker the same tasks folder (GRADER_TASKS_DIR)")


def _save_phase(job: Job, message: str) -> None:
    job.meta[META_PHASE] = message
    try:
        job.save_meta()
    except Exception:  # noqa: BLE001 - the live view is a courtesy; the grading goes on
        pass


def grade_job(job: dict[str, Any]) -> dict[str, Any]:
    """Grade one queued submission with this machine's Docker engine; the report folder comes back packed.

    Raises (so RQ retries) only for the infrastructure's failure while attempts are left.
    """
    from rq import get_current_job

    from grader.grading.batch import error_report
    from grader.grading.pipeline import Grader
    from grader.sandbox import get_backend

    _die_with_parent()
    current = get_current_job()
    if current is None:
        raise RuntimeError("grade_job runs inside an RQ worker (grader worker)")
    spec = GradingJob.model_validate(job)
    attempt = attempt_of(current)
    _check_versions(spec)
    queue_job = queue_job_of(current, socket.gethostname())
    print(f"grading {spec.name} ({current.id}, attempt {attempt} of {queue_job.attempts_allowed})", flush=True)
    with tempfile.TemporaryDirectory(prefix="grader-job-") as tmp:
        archive = Path(tmp) / f"{spec.name}.tar.gz"
        archive.write_bytes(base64.b64decode(spec.archive))
        out = Path(tmp) / "report"
        grader = None
        try:
            grader = Grader(get_backend("docker"), progress=lambda message: _save_phase(current, message),
                            tracking=_tracking(spec.batch_id, current, attempt), queue_job=queue_job)
            report = grader.grade(archive, task_id=spec.task_id, out_dir=out, candidate=spec.name,
                                  origin=spec.origin)
        except Exception as exc:  # noqa: BLE001 - the grader's own failure: an error report, retried below
            report = error_report(out, spec.origin, spec.name, spec.task_id, f"{type(exc).__name__}: {exc}",
                                  queue=queue_job)
        finally:
            if grader is not None:
                grader.sandbox.close()
        if report.status == "error" and (current.retries_left or 0) > 0:
            raise InfrastructureFailure(reason(report), "retried by the queue")
        try:
            folder = pack(out, limit=MAX_REPORT_BYTES, what=f"report folder of {spec.name}",
                          fix="a report folder holds the reports and predictions.csv: a task with that many "
                              "hidden rows needs a larger MAX_REPORT_BYTES (grader/queue/jobs.py)")
        except PackTooLarge as exc:
            report = error_report(out / "too-large", spec.origin, spec.name, spec.task_id, str(exc),
                                  queue=queue_job)
            folder = pack(out / "too-large", limit=MAX_REPORT_BYTES, what="error report", fix="")
    return GradingResult(status=report.status, outcome=report.verdict.outcome, passed=report.passed,
                         score=report.score, duration_s=report.duration_s, attempt=attempt,
                         worker=queue_job.worker, folder=folder).model_dump()


def reason(report: Report) -> str:
    """Why a grading ended in an error, in one line."""
    return "; ".join(f.message for f in report.failures) or "the grading ended in an error without a message"


def encode(job: GradingJob) -> dict[str, Any]:
    """``job`` as the JSON-able argument of :func:`grade_job`."""
    return json.loads(job.model_dump_json())
