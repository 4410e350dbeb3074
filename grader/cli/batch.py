"""``grader batch``: grade a cohort on this machine, N at a time, with live progress and the cohort files."""

from __future__ import annotations

import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

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
            how = "kept (resumed)" if result.resumed else f"{result.duration_s or 0:.0f} s"
            self.progress.console.print(f"{escape(entry.name)}: {result.outcome.replace('_', ' ')}, "
                                        f"score {result.score:.1f} ({how})")


@click.command("batch")
@click.argument("submissions", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Folder for one report folder per submission and the cohort files.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Gradings at once [default: as many as the cores allow at the tasks' CPU limits].")
@click.option("--task", "task_id", help="Task id to grade every submission against (default: each one's own).")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI [default: sqlite:///mlflow.db here].")
@click.option("--no-mlflow", is_flag=True, help="Do not log the gradings to MLflow.")
@click.option("--force", is_flag=True, help="Grade again even a submission whose report is already there.")
def batch(submissions: tuple[Path, ...], out_dir: Path, workers: int | None, task_id: str | None,
          mlflow_uri: str | None, no_mlflow: bool, force: bool) -> None:
    """Grade every one of SUBMISSIONS (folders, .zip / .tar.gz, or folders of them), N at a time.

    Writes DIR/<name>/ (the reports of `grader grade`) and DIR/cohort.json, cohort.html (the `grader
    compare` page and the similarity flags) and cohort.md. A re-run keeps a report already there for the
    same content, task, rubric and grader versions (--force grades again), so an interrupted batch
    continues where it stopped. Exit codes: 0 every submission passed, 1 some did not pass or were
    invalid, 4 a grading ended in a grader or infrastructure error (or the batch was interrupted).
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from grader.authoring.template import starter_sources
    from grader.cli.console import err, out
    from grader.cli.grade import _writable
    from grader.compare.cohort import write_cohort
    from grader.compare.similarity import similarity
    from grader.errors import UnknownNameError
    from grader.grading.batch import Batch, default_workers, discover
    from grader.grading.pipeline import Grader
    from grader.grading.pipeline import Progress as GradingProgress
    from grader.integrations.mlflow import Tracking
    from grader.sandbox import get_backend
    from grader.spec.cohort import Cohort
    from grader.spec.task import discover_tasks, load_task
    from grader.version import __version__

    known = discover_tasks()
    if task_id is not None and task_id not in known:
        raise UnknownNameError("task", task_id, known)
    entries = discover(list(submissions))
    _writable(out_dir)
    if workers is None:
        cpus = max(load_task(known[t]).limits.cpus for t in ([task_id] if task_id else known))
        workers = default_workers(cpus)
    batch_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    tracking = None if no_mlflow else Tracking(mlflow_uri, tags=(("grader.batch", batch_id),))
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    began = time.monotonic()

    def make_grader(progress: GradingProgress) -> Grader:
        return Grader(get_backend("docker"), progress=progress, tracking=tracking)

    err.print(f"Batch [bold]{batch_id}[/]: {len(entries)} submission(s), {workers} at a time, into {out_dir}")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=False) as progress:
        display = _Display(progress, len(entries))
        runner = Batch(make_grader, out_dir, workers=workers, task_id=task_id, force=force, listener=display)
        try:
            results = runner.run(entries)
        except KeyboardInterrupt:
            progress.stop()
            err.print(f"[bold red]interrupted[/]: the finished reports are in {out_dir}; run the same command "
                      "again to continue where it stopped")
            sys.exit(4)
    with err.status("Comparing the cohort's code and writing the cohort files"):
        boilerplate = {f"template/{name}": code for name, code in starter_sources().items()}
        cohort = Cohort(batch_id=batch_id, grader_version=__version__, started_at=started_at, workers=workers,
                        submissions=results, similarity=similarity([e.path for e in entries], boilerplate)
                        if len(entries) > 1 else None)
        write_cohort(cohort, out_dir)
    graded = sum(not r.resumed for r in results)
    out.print(f"{len(results)} submission(s): {graded} graded, {len(results) - graded} kept from earlier runs, "
              f"in {time.monotonic() - began:.0f} s. Cohort: [bold]{out_dir / 'cohort.html'}[/] "
              f"({out_dir / 'cohort.json'}, {out_dir / 'cohort.md'})")
    sys.exit(cohort.exit_code)
