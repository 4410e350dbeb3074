"""``grader batch``: many submissions graded on one machine, N at a time, each with its own ``Grader`` and
sandbox, into ``DIR/<name>/``; resumable, because a report already there for the same content and the
same task, rubric and grader versions is kept rather than graded again.

Gradings run in threads: each is mostly waiting on the engine. The threads are daemons and never see
Ctrl-C (it reaches the main thread, :meth:`Batch.run`), which closes every worker's sandbox, so nothing
of a stopped batch outlives it but the reports already written. One submission's failure is its report
(the pipeline never raises for a submission); a grader bug in one is an ``error`` report, never the end
of the batch.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from grader.errors import GraderError, UsageError
from grader.grading import workers
from grader.grading.pipeline import Grader, Progress
from grader.report.write import REPORT_FILE, write_reports
from grader.spec.cohort import CohortEntry
from grader.spec.report import Failure, QueueJob, Report, SubmissionRef, TaskRef
from grader.spec.task import discover_tasks, load_task
from grader.submission.intake import ARCHIVE_SUFFIXES, stage, submission_name
from grader.submission.validate import manifest_task
from grader.version import __version__

SUBMISSION_FILE = "submission.yaml"


@dataclass(frozen=True)
class Entry:
    """One submission of the batch: its unique name (its folder under --out) and the path given."""

    name: str
    path: Path


def _is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def _members(folder: Path) -> list[Path] | None:
    """The submissions of a folder of them (sub-folders and archives, hidden ones left out), or None when
    ``folder`` is one submission (it has submission.yaml, or holds only files: a broken submission)."""
    if (folder / SUBMISSION_FILE).is_file():
        return None
    members = sorted(p for p in folder.iterdir() if not p.name.startswith(".") and (p.is_dir() or _is_archive(p)))
    return members or None


#: What ``grader batch`` takes, for every error about its arguments.
WHAT_TO_GIVE = "give submission folders, .zip / .tar.gz archives, or a folder of them"


def discover(paths: Sequence[Path]) -> list[Entry]:
    """Every submission the arguments name, in order: folders, archives, and folders of them.

    Names are the submissions' names (``alice.zip`` -> ``alice``); two that collide get ``-2``, ``-3``...
    in the order given, and the same submission given twice is graded once.
    """
    found: list[Path] = []
    for path in paths:
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder", WHAT_TO_GIVE)
        if path.is_file() and not _is_archive(path):
            raise UsageError(f"{path}: not a folder, .zip or .tar.gz archive", WHAT_TO_GIVE)
        if path.is_dir() and not any(p for p in path.iterdir() if not p.name.startswith(".")):
            raise UsageError(f"{path}: an empty folder, neither a submission nor a folder of them", WHAT_TO_GIVE)
        found += (_members(path) or [path]) if path.is_dir() else [path]
    entries: list[Entry] = []
    seen: set[Path] = set()
    taken: set[str] = set()
    for path in found:
        if (real := path.resolve()) in seen:
            continue
        seen.add(real)
        base = submission_name(path) or "submission"
        name, n = base, 1
        while name.lower() in taken:  # folders on a case-insensitive file system must not merge either
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        entries.append(Entry(name, path))
    if not entries:
        raise UsageError("no submissions to grade", WHAT_TO_GIVE)
    return entries


# -- resuming -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResumeKey:
    """What a report must have been graded with to stand for a submission again."""

    sha256: str | None
    task_id: str | None
    task_version: int | None
    rubric_version: int | None
    grader_version: str | None

    @classmethod
    def of_report(cls, report: Report) -> ResumeKey:
        return cls(report.submission.sha256, report.task.id if report.task.version is not None else None,
                   report.task.version, report.rubric.version if report.rubric else None,
                   report.environment.grader_version)


def read_existing(folder: Path) -> Report | None:
    """The report already in ``folder``, or None when there is none or it does not load."""
    try:
        return Report.model_validate_json((folder / REPORT_FILE).read_bytes())
    except (OSError, ValidationError):
        return None


def content_sha256(path: Path) -> str | None:
    """The submission's content hash, as the grading computes it (a folder and its archive hash the same);
    None when it cannot be staged (the grading will say why)."""
    with tempfile.TemporaryDirectory(prefix="grader-batch-") as tmp:
        try:
            return stage(path, Path(tmp)).sha256
        except GraderError:
            return None


def current_key(report: Report, sha256: str | None, *, tasks_root: Path | None = None,
                task_id: str | None = None) -> ResumeKey | None:
    """The key the submission would get graded now against the task its earlier report names (the
    manifest inside the same content names the same task), or None when that task is gone or ``task_id``
    (--task) asks for another one."""
    if report.task.version is None:  # invalid before its task was read: only the content and grader count
        return ResumeKey(sha256, None, None, None, __version__)
    if task_id is not None and task_id != report.task.id:
        return None
    known = discover_tasks(tasks_root)
    if report.task.id not in known:
        return None
    task = load_task(known[report.task.id])
    rubric = task.rubric_spec()
    return ResumeKey(sha256, task.id, task.version, rubric.version if report.rubric else None, __version__)


def resumable(report: Report | None, sha256: str | None, *, tasks_root: Path | None = None,
              task_id: str | None = None) -> bool:
    """Whether ``report`` stands for the submission: same content, task, rubric and grader versions, and a
    result about the submission (an ``error`` is the grader's or its infrastructure's: graded again)."""
    if report is None or report.status == "error" or sha256 is None or report.evaluated_on != "test":
        return False
    try:
        key = current_key(report, sha256, tasks_root=tasks_root, task_id=task_id)
    except GraderError:  # the task no longer loads: grading again says why
        return False
    return key is not None and key == ResumeKey.of_report(report)


# -- running ------------------------------------------------------------------------------------

class Listener(Protocol):
    """What the batch tells its display (called from worker threads)."""

    def started(self, entry: Entry) -> None: ...
    def phase(self, entry: Entry, message: str) -> None: ...
    def finished(self, entry: Entry, result: CohortEntry) -> None: ...


def entry_of(entry: Entry, report: Report, *, resumed: bool = False) -> CohortEntry:
    return CohortEntry(name=entry.name, path=str(entry.path), status=report.status, outcome=report.verdict.outcome,
                       passed=report.passed, score=report.score, report=f"{entry.name}/{REPORT_FILE}",
                       resumed=resumed, duration_s=report.duration_s)


@dataclass
class Batch:
    """Grades ``entries`` into ``out_dir/<name>/``, ``workers`` at a time.

    ``make_grader(progress)``: a new ``Grader`` (with its own sandbox) for one worker; ``progress``
    receives its phase messages. Closing the graders' sandboxes is this class's job.
    """

    make_grader: Callable[[Progress], Grader]
    out_dir: Path
    workers: int = 1
    task_id: str | None = None
    force: bool = False
    tasks_root: Path | None = None
    listener: Listener | None = None
    _graders: list[Grader] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self, entries: Sequence[Entry]) -> list[CohortEntry]:
        """Every entry's result, in the order given. Ctrl-C stops the batch: running gradings are
        ended (their sandboxes closed), finished reports stay, and KeyboardInterrupt is raised."""
        results: dict[str, CohortEntry] = {}
        pending = list(entries)
        threads = []
        for i in range(max(1, min(self.workers, len(entries)))):
            current: list[Entry] = []  # what this worker grades now, for its grader's phase messages
            grader = self.make_grader(self._phases(current))
            self._graders.append(grader)
            threads.append(threading.Thread(target=self._work, args=(grader, current, pending, results),
                                            name=f"batch-{i + 1}", daemon=True))
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(timeout=0.2)  # short waits: Ctrl-C reaches this thread between them
        except BaseException:
            self._stop.set()
            self._close()  # ends the running containers; their gradings then end by themselves
            deadline = time.monotonic() + 30
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            self._close()  # whatever a grading started after the first close
            raise
        self._close()
        return [results[e.name] for e in entries]

    def _phases(self, current: list[Entry]) -> Progress:
        def progress(message: str) -> None:
            if current:
                self._tell("phase", current[0], message)
        return progress

    def _close(self) -> None:
        with self._lock:
            graders = list(self._graders)
        for grader in graders:
            try:
                grader.sandbox.close()
            except Exception:  # noqa: BLE001 - the session is pruned at exit and by `grader sandbox prune`
                pass

    def _work(self, grader: Grader, current: list[Entry], pending: list[Entry],
              results: dict[str, CohortEntry]) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not pending:
                    return
                entry = pending.pop(0)
            current[:] = [entry]
            results[entry.name] = self._one(grader, entry)

    def _one(self, grader: Grader, entry: Entry) -> CohortEntry:
        folder = self.out_dir / entry.name
        self._tell("started", entry)
        try:
            if not self.force:
                self._tell("phase", entry, "checking for an earlier report")
                existing = read_existing(folder)
                if existing is not None and resumable(existing, content_sha256(entry.path),
                                                      tasks_root=self.tasks_root, task_id=self.task_id):
                    result = entry_of(entry, existing, resumed=True)
                    self._tell("finished", entry, result)
                    return result
            report = grader.grade(entry.path, task_id=self.task_id, out_dir=folder, candidate=entry.name)
        except Exception as exc:  # noqa: BLE001 - a grader bug in this entry is this entry's error only
            report = error_report(folder, str(entry.path), entry.name, self.task_id,
                                  f"{type(exc).__name__}: {exc}", submission=entry.path)
        result = entry_of(entry, report)
        self._tell("finished", entry, result)
        return result

    def _tell(self, what: str, entry: Entry, *args: object) -> None:
        tell(self.listener, what, entry, *args)


def tell(listener: Listener | None, what: str, entry: Entry, *args: object) -> None:
    """Call ``listener.<what>(entry, *args)``, if there is a listener; a display bug never costs a grading."""
    if listener is not None:
        try:
            getattr(listener, what)(entry, *args)
        except Exception:  # noqa: BLE001 - see above
            pass


def error_report(folder: Path, path: str, name: str, task_id: str | None, message: str, *,
                 invalid: bool = False, queue: QueueJob | None = None, submission: Path | None = None) -> Report:
    """An ``error`` report (``invalid``: the submission's own fault) for a submission whose grading could not
    produce one, written to ``folder`` when that is possible (a cohort lists it with its error either way);
    ``queue``: the queue job it was. ``submission``: its folder (unpacked), whose submission.yaml names the
    task when ``task_id`` does not, so the report is filed under that task rather than ``unknown``."""
    failure = (Failure(phase="validate", kind="invalid_submission", message=message) if invalid
               else Failure(phase="grader", kind="sandbox_error", message=message))
    named = task_id or (manifest_task(submission) if submission is not None and submission.is_dir() else None)
    report = Report(status="invalid" if invalid else "error", task=TaskRef(id=named or "unknown"),
                    submission=SubmissionRef(path=path, candidate=name), failures=[failure])
    report.environment.grader_version = __version__
    if queue is not None:
        report.environment.queue = queue
    try:
        write_reports(report, folder)
    except Exception:  # noqa: BLE001 - the cohort still lists it, with its error
        pass
    return report


def default_workers(cpus: float) -> int:
    """How many gradings of ``cpus`` cores each fit in this machine's cores at once."""
    return workers.slots(cpus)
