"""``grader batch``: grade a cohort on this machine N at a time, or on a queue's workers (``--queue``), with live
progress and the cohort files."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from grader.grading.batch import Entry
    from grader.spec.cohort import CohortEntry


class _Display:
    """The live view: one line per running submission (its phase, elapsed) and the overall bar with done /
    failed / remaining and the time left. Called from the batch's worker threads."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.total = total
        self.done = self.failed = 0
        self._lines: dict[str, TaskID] = {}
        self._lock = threading.Lock()
        self.overall = progress.add_task(self._summary(), total=total)

    def _summary(self) -> str:
        return (f"[bold]batch[/] {self.done} done, {self.failed} failed, "
                f"{self.total - self.done - self.failed} remaining")

    def started(self, entry: Entry) -> None:
        from rich.markup import escape

        with self._lock:
            self._lines[entry.name] = self.progress.add_task(f"{escape(entry.name)}: starting", total=None)

    def phase(self, entry: Entry, message: str) -> None:
        from rich.markup import escape

        with self._lock:
            if (line := self._lines.get(entry.name)) is not None:
                self.progress.update(line, description=f"{escape(entry.name)}: {escape(message)}")

    def finished(self, entry: Entry, result: CohortEntry) -> None:
        from rich.markup import escape

        with self._lock:
            if (line := self._lines.pop(entry.name, None)) is not None:
                self.progress.remove_task(line)
            if result.outcome in ("passed", "not_passed"):
                self.done += 1
            else:
                self.failed += 1
            self.progress.update(self.overall, advance=1, description=self._summary())
            from grader.report.format import points

            how = "kept (resumed)" if result.resumed else f"{result.duration_s or 0:.0f} s"
            self.progress.console.print(f"{escape(entry.name)}: {result.outcome.replace('_', ' ')}, "
                                        f"score {points(result.score)} ({how})")


@click.command("batch")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for one report folder per submission and the cohort files.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Gradings at once [default: as many as the cores allow at the tasks' CPU limits].")
@click.option("--task", "task_id", help="Task id to grade every submission against (default: each one's own).")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI [default: the user's store, <data dir>/mlflow.db: "
                   "~/.local/share/grader unless $GRADER_DATA_DIR or $XDG_DATA_HOME says otherwise].")
@click.option("--no-mlflow", is_flag=True, help="Do not log the gradings to MLflow.")
@click.option("--force", is_flag=True, help="Grade again even a submission whose report is already there.")
@click.option("--queue", "queue_url", metavar="URL", envvar="GRADER_QUEUE", show_envvar=True,
              help="Grade on the workers of this queue (redis://HOST:PORT/DB; `grader worker`, docs/scaling.md) "
                   "instead of here.")
@click.option("--no-wait", is_flag=True, help="With --queue: enqueue and return; the same command collects later.")
def batch(submissions: tuple[Path, ...], out_dir: Path, workers: int | None, task_id: str | None,
          mlflow_uri: str | None, no_mlflow: bool, force: bool, queue_url: str | None, no_wait: bool) -> None:
    """Grade every one of SUBMISSIONS (folders, .zip / .tar.gz, or folders of them), N at a time.

    Writes DIR/<name>/ (the reports of `grader grade`) and DIR/cohort.json, cohort.html (the `grader
    compare` page and the similarity flags) and cohort.md. A re-run keeps a report already there for the
    same content, task, rubric and grader versions (--force grades again), so an interrupted batch
    continues where it stopped. With --queue the gradings run on the queue's workers, and the reports
    come back here as they finish. Exit codes: 0 every submission passed, 1 some did not pass or were
    invalid, 4 a grading ended in a grader or infrastructure error (or the batch was interrupted).
    """
    from grader.cli.grade import _writable
    from grader.errors import UnknownNameError, UsageError
    from grader.grading.batch import WHAT_TO_GIVE, discover
    from grader.spec.task import discover_tasks

    known = discover_tasks()
    if task_id is not None and task_id not in known:
        raise UnknownNameError("task", task_id, known)
    if queue_url is None and no_wait:
        raise UsageError("--no-wait needs --queue: without a queue the batch grades here, while you wait",
                         "add --queue redis://HOST:PORT/DB, or leave --no-wait out")
    given_uri = click.get_current_context().get_parameter_source("mlflow_uri") == ParameterSource.COMMANDLINE
    if queue_url is not None and (workers is not None or given_uri or no_mlflow):
        raise UsageError("with --queue, the workers grade and log: --workers, --mlflow-uri and --no-mlflow "
                         "belong to `grader worker`", f"leave them out here; {WHAT_TO_GIVE} and --out")
    entries = discover(list(submissions))
    _writable(out_dir)
    batch_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.monotonic()
    if queue_url is not None:
        results, workers = _on_queue(queue_url, entries, out_dir, batch_id, task_id, force, no_wait)
    else:
        if workers is None:
            from grader.grading.batch import default_workers
            from grader.spec.task import load_task

            cpus = max(load_task(known[t]).limits.cpus for t in ([task_id] if task_id else known))
            workers = default_workers(cpus)
        results = _here(entries, out_dir, batch_id, workers, task_id, force, mlflow_uri, no_mlflow)
    _finish(entries, results, out_dir, batch_id, started_at, workers, began, queue_url)


def _columns() -> tuple:
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn())


def _here(entries: list[Entry], out_dir: Path, batch_id: str, workers: int, task_id: str | None, force: bool,
          mlflow_uri: str | None, no_mlflow: bool) -> list[CohortEntry]:
    """The cohort graded on this machine, ``workers`` at a time."""
    from rich.progress import Progress

    from grader.cli.console import err
    from grader.grading.batch import Batch
    from grader.grading.pipeline import Grader
    from grader.grading.pipeline import Progress as GradingProgress
    from grader.integrations.mlflow import Tracking
    from grader.sandbox import get_backend

    tracking = None if no_mlflow else Tracking(mlflow_uri, tags=(("grader.batch", batch_id),))

    def make_grader(progress: GradingProgress) -> Grader:
        return Grader(get_backend("docker"), progress=progress, tracking=tracking)

    err.print(f"Batch [bold]{batch_id}[/]: {len(entries)} submission(s), {workers} at a time, into {out_dir}")
    with Progress(*_columns(), console=err, transient=False) as progress:
        display = _Display(progress, len(entries))
        runner = Batch(make_grader, out_dir, workers=workers, task_id=task_id, force=force, listener=display)
        try:
            return runner.run(entries)
        except KeyboardInterrupt:
            progress.stop()
            err.print(f"[bold red]interrupted[/]: the finished reports are in {out_dir}; run the same command "
                      "again to continue where it stopped")
            sys.exit(4)


def _on_queue(url: str, entries: list[Entry], out_dir: Path, batch_id: str, task_id: str | None, force: bool,
              no_wait: bool) -> tuple[list[CohortEntry], int]:
    """The cohort enqueued and (unless ``no_wait``) collected; the results and how many workers graded."""
    from rich.markup import escape
    from rich.progress import Progress

    from grader.cli.console import err, out
    from grader.grading.batch import read_existing
    from grader.queue.client import QueueBatch
    from grader.queue.connection import connect, redacted

    redis = connect(url)
    runner = QueueBatch(redis, out_dir, batch_id, task_id=task_id, force=force,
                        notice=lambda message: err.print(escape(message)))
    with err.status(f"Enqueuing {len(entries)} submission(s) on {redacted(url)}"):
        submitted = runner.enqueue(entries)
    jobs = {s.job_id for s in submitted if s.job_id is not None}
    fresh = {s.job_id for s in submitted if s.job_id is not None and not s.reused}
    settled = sum(s.job_id is None for s in submitted)
    err.print(f"Batch [bold]{batch_id}[/]: {len(entries)} submission(s) on {escape(redacted(url))}: {len(fresh)} "
              f"job(s) enqueued, {len(jobs) - len(fresh)} already there, {settled} settled here "
              "(kept from earlier runs, or refused before grading)")
    if no_wait:
        out.print(f"Not waiting. Collect the reports into {out_dir} with the same command without --no-wait; "
                  f"watch the workers with `grader queue status --queue {escape(redacted(url))}`.")
        sys.exit(0)
    with Progress(*_columns(), console=err, transient=False) as progress:
        runner.listener = _Display(progress, len(entries))
        try:
            results = runner.collect(submitted)
        except KeyboardInterrupt:
            progress.stop()
            err.print(f"[bold red]stopped waiting[/]: the workers go on grading; run the same command again to "
                      f"collect the reports into {out_dir}")
            sys.exit(4)
    graders = set()
    for result in results:
        report = read_existing(out_dir / result.name)
        if report is not None and report.environment.queue is not None:
            graders.add(report.environment.queue.worker)
    return results, len(graders)


def _finish(entries: list[Entry], results: list[CohortEntry], out_dir: Path, batch_id: str, started_at: str,
            workers: int, began: float, queue_url: str | None) -> None:
    """The cohort files, the summary line, and the batch's exit code."""
    from grader.authoring.template import starter_boilerplate
    from grader.cli.console import err, out
    from grader.compare.cohort import write_cohort
    from grader.compare.similarity import similarity
    from grader.queue.connection import redacted
    from grader.spec.cohort import Cohort
    from grader.version import __version__

    with err.status("Comparing the cohort's code and writing the cohort files"):
        cohort = Cohort(batch_id=batch_id, grader_version=__version__, started_at=started_at, workers=workers,
                        queue=redacted(queue_url) if queue_url else None, submissions=results,
                        similarity=similarity([e.path for e in entries], starter_boilerplate()) if len(entries) > 1
                        else None)
        write_cohort(cohort, out_dir)
    graded = sum(not r.resumed for r in results)
    out.print(f"{len(results)} submission(s): {graded} graded, {len(results) - graded} kept from earlier runs, "
              f"in {time.monotonic() - began:.0f} s. Cohort: [bold]{out_dir / 'cohort.html'}[/] "
              f"({out_dir / 'cohort.json'}, {out_dir / 'cohort.md'})")
    sys.exit(cohort.exit_code)
