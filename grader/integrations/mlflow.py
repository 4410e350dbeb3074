"""MLflow logging: one run per grading, in an experiment named after the task.

Logging never raises: an MLflow failure (server down, locked database, bad URI) becomes a warning
in the report, never a lost grading. A grading opens the store while the candidate's code runs
(:func:`open_store`), creates its run before writing the reports so that they carry the run id
(:func:`start_run`), then logs the figures and the written files (:func:`finish_run`);
:func:`log_grading` does the three at once. The default store is MLflow's own embedded one, a
SQLite database ``mlflow.db`` in the user's data folder (:func:`grader.paths.data_dir`, e.g.
``~/.local/share/grader/mlflow.db``): one store per user whatever folder the grader runs from, and no
server; ``--mlflow-uri`` or ``MLFLOW_TRACKING_URI`` points at another store or a tracking server.

Reading never creates a store: ``grader compare --mlflow`` against a local store that is not there is an
error (:func:`require_store`), and ``grader review`` updates the reviewed run only where its store is
(:func:`record_review`).

A new SQLite store is created once, under a file lock, before anything logs to it
(:func:`prepare_store`): two gradings that create the same store at the same moment would
otherwise race on its schema migration and lose runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from grader.report.format import points

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from grader.spec.report import Report, Review

DEFAULT_DB = "mlflow.db"
#: The run tag listing the failure kinds of a grading (comma-separated, sorted; ``none`` when none).
FAILURE_KINDS_TAG = "grader.failure_kinds"


def default_uri() -> str:
    """The embedded store every grading logs to unless told otherwise: ``<data dir>/mlflow.db``."""
    from grader.paths import data_dir

    return f"sqlite:///{(data_dir() / DEFAULT_DB).resolve()}"


@dataclass(frozen=True)
class Tracking:
    """Where gradings are logged. ``uri`` None: ``MLFLOW_TRACKING_URI``, else :func:`default_uri`.

    ``tags``: added to every run logged here (``grader batch`` tags its gradings with ``grader.batch``).
    """

    uri: str | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def resolved_uri(self) -> str:
        uri = self.uri or os.environ.get("MLFLOW_TRACKING_URI") or default_uri()
        return _absolute_sqlite(uri)


def _absolute_sqlite(uri: str) -> str:
    """``sqlite:///mlflow.db`` relative to the working folder, made absolute (the lock needs the path)."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    return uri


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def _local_path(uri: str) -> Path | None:
    """Where a store on this machine lives (SQLite file, or a ``file:`` / plain-path file store); None for
    a server, whose existence only the server can tell."""
    if uri.startswith("sqlite:"):
        return _sqlite_path(uri)
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    return Path(uri) if parsed.scheme == "" else None


def missing_store(uri: str) -> Path | None:
    """The path of a local store that does not exist (opening it would create an empty one), else None."""
    path = _local_path(uri)
    return path if path is not None and not path.exists() else None


def require_store(tracking: Tracking) -> str:
    """The store's URI, after checking it is there: reading must never leave an empty store behind.

    Raises :class:`~grader.errors.UsageError` for a local store that does not exist.
    """
    from grader.errors import UsageError

    uri = tracking.resolved_uri
    path = missing_store(uri)
    if path is not None:
        default = " (the default store: no grading has logged to it yet)" if uri == default_uri() else ""
        raise UsageError(f"no MLflow store at {path}{default}; nothing was created",
                         "point at the store the gradings logged to with --mlflow-uri or MLFLOW_TRACKING_URI "
                         f"(e.g. --mlflow-uri sqlite:////path/to/mlflow.db); `grader grade` logs to {default_uri()} "
                         "unless told otherwise")
    return uri


#: One client per store and process: a new one costs a second or more (MLflow opens and checks the store).
_CLIENTS: dict[str, MlflowClient] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(uri: str) -> MlflowClient:
    with _CLIENTS_LOCK:  # a thread opening the store makes the others wait for that one, not open another
        client = _CLIENTS.get(uri)
        if client is None:
            from mlflow import MlflowClient

            # Schema creation and migrations log at INFO on every new store: noise in a grading's output.
            for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
                logging.getLogger(name).setLevel(logging.WARNING)
            client = _CLIENTS[uri] = MlflowClient(tracking_uri=uri)
    return client


@contextlib.contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Serialise store creation and experiment creation across processes (SQLite stores only)."""
    path = _sqlite_path(uri)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare_store(tracking: Tracking) -> str:
    """Create the store (schema and migrations) if it does not exist yet; returns the URI.

    Call it once before gradings run in parallel against one SQLite store.
    """
    uri = tracking.resolved_uri
    with _store_lock(uri):
        _client(uri).search_experiments(max_results=1)
    return uri


def experiment_id(client: MlflowClient, uri: str, name: str) -> str:
    """The experiment called ``name``, created when missing (once, even with parallel gradings)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    with _store_lock(uri):
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        db = _sqlite_path(uri)
        # Beside the database, not in whatever folder the grader happens to run from next time.
        location = (db.parent / "mlartifacts").as_uri() if db is not None else None
        try:
            return client.create_experiment(name, artifact_location=location,
                                            tags={"grader.task": name})
        except MlflowException:  # created by a server-side concurrent call meanwhile
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
            return found.experiment_id


def open_store(tracking: Tracking) -> Exception | None:
    """Import MLflow and open the store (creating it when new), so that logging a grading only logs.

    For a thread that runs while the candidate's code does. Returns what failed instead of raising:
    pass it to :func:`start_run`, which reports it.
    """
    uri = tracking.resolved_uri
    _http_defaults(uri)
    try:
        prepare_store(tracking)
    except Exception as exc:  # noqa: BLE001 - reported by start_run, as a warning
        return exc
    return None


@dataclass(frozen=True)
class LoggedRun:
    """A grading's MLflow run, created before its reports are written so that they carry its id."""

    client: Any
    uri: str
    run_id: str


def start_run(report: Report, tracking: Tracking, *, failed: Exception | None = None) -> LoggedRun | None:
    """Create the run of ``report`` (settled: its tags say how it ended) and note it in its environment.

    Never raises: a failure, or ``failed`` (what :func:`open_store` met), becomes a warning in the
    report, and None is returned.
    """
    from grader.spec.report import MlflowRun

    uri = tracking.resolved_uri
    _http_defaults(uri)
    try:
        if failed is not None:
            raise failed
        prepare_store(tracking)
        client = _client(uri)
        exp = experiment_id(client, uri, report.task.id)
        run_id = client.create_run(exp, run_name=run_name(report),
                                   tags=tags(report) | dict(tracking.tags)).info.run_id
    except Exception as exc:  # noqa: BLE001 - MLflow must never cost a grading
        _warn(report, uri, exc)
        return None
    report.environment.mlflow = MlflowRun(tracking_uri=_safe_uri(uri), experiment_id=exp, run_id=run_id)
    return LoggedRun(client, uri, run_id)


def finish_run(run: LoggedRun, report: Report, out_dir: Path | None) -> bool:
    """Log the params, the metrics and the files in ``out_dir`` into ``run``, and close it.

    Never raises: on a failure the run is closed as FAILED, leaves ``report.environment`` and a
    warning says why; False is returned (the reports need writing again).
    """
    client = run.client
    try:
        try:
            client.log_batch(run.run_id, params=_params(report), metrics=_metrics(report))
            if out_dir is not None and out_dir.is_dir():
                client.log_artifacts(run.run_id, str(out_dir))
        except BaseException:
            client.set_terminated(run.run_id, status="FAILED")
            raise
        client.set_terminated(run.run_id, status="FINISHED")
    except Exception as exc:  # noqa: BLE001 - MLflow must never cost a grading
        report.environment.mlflow = None
        _warn(report, run.uri, exc)
        return False
    return True


def log_grading(report: Report, out_dir: Path | None, tracking: Tracking) -> str | None:
    """Log ``report`` (and the files in ``out_dir``) as one MLflow run; returns its id.

    Never raises: a failure is appended to ``report.warnings`` and None is returned.
    """
    run = start_run(report, tracking)
    return run.run_id if run is not None and finish_run(run, report, out_dir) else None


def _http_defaults(uri: str) -> None:
    if uri.startswith(("http://", "https://")):
        # MLflow's defaults retry an unreachable server for minutes; a grading should not wait that long.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


def _warn(report: Report, uri: str, exc: BaseException) -> None:
    report.warnings.append(_scrub(uri, f"MLflow logging to {uri} failed ({type(exc).__name__}: "
                                  f"{_first_line(exc)}); the reports in the output folder are complete. Check "
                                  "the tracking URI (--mlflow-uri / MLFLOW_TRACKING_URI) or use --no-mlflow"))


def run_name(report: Report) -> str:
    who = report.submission.candidate or Path(report.submission.path or "submission").name
    digest = (report.submission.sha256 or "")[:8]
    return f"{who}-{digest}" if digest else who


def tags(report: Report) -> dict[str, str]:
    values = {
        "status": report.status,
        "passed": str(report.passed).lower(),
        "candidate": report.submission.candidate or "",
        "evaluated_on": report.evaluated_on,
        "exit_code": str(report.exit_code),
        "grader_version": report.environment.grader_version or "",
    }
    found = {k: v for k, v in values.items() if v != ""}
    # Always set, so a search (`tags."grader.failure_kinds" LIKE '%timeout%'`) finds runs by how they failed.
    found[FAILURE_KINDS_TAG] = ",".join(sorted({f.kind for f in report.failures})) or "none"
    return found


def params(report: Report) -> dict[str, str]:
    """What the grading was run with: task, submission, runtime image, limits, seeds, rubric."""
    env = report.environment
    sandbox = env.sandbox
    values: dict[str, Any] = {
        "task_id": report.task.id,
        "task_version": report.task.version,
        "submission_sha256": report.submission.sha256,
        "submission_path": report.submission.path,
        "runtime_image": sandbox.image if sandbox else None,
        "runtime_image_id": sandbox.image_id if sandbox else None,
        "sandbox_backend": sandbox.backend if sandbox else None,
        "seed": env.seed,
        "reproducibility_runs": report.reproducibility.runs or None,
        "other_seed": env.reproducibility_settings.other_seed if env.reproducibility_settings else None,
        "rubric": f"{report.rubric.id}@{report.rubric.version}" if report.rubric else None,
        "evaluated_on": report.evaluated_on,
    }
    for key, value in (env.limits.model_dump() if env.limits else {}).items():
        values[f"limits.{key}"] = value
    return {k: str(v)[:6000] for k, v in values.items() if v is not None}


def metrics(report: Report) -> dict[str, float]:
    """Every figure in the report, flattened to MLflow metric names.

    The registered figures (:mod:`grader.evaluate.figures`) keep their own names (``latency.p95_ms``), the
    ones rubrics and ``grader compare --sort`` use; the rest follow the report's structure.
    """
    from grader.evaluate.figures import figures

    found: dict[str, float | None] = {"score": report.score, "passed": float(report.passed)}
    for name, value in report.metrics.items():
        found[f"metrics.{name}"] = value
    for name, interval in report.metrics_ci.items():
        found[f"metrics.{name}.ci_low"], found[f"metrics.{name}.ci_high"] = interval.low, interval.high
    found.update({name: figures.get(name).value(report) for name in figures})
    for label, scores in report.per_class.items():
        for name, value in scores.items():
            found[f"per_class.{_key(label)}.{name}"] = value
    lat = report.latency
    for name in ("count", "duration_s", "min_ms", "sandbox_peak_memory_mb", "single_batch_agreement"):
        found[f"latency.{name}"] = getattr(lat, name)
    if lat.floor is not None:
        for name in ("p50_ms", "p90_ms", "p99_ms", "mean_ms"):
            found[f"latency.floor.{name}"] = getattr(lat.floor, name)
    for batch in lat.batches:
        found[f"latency.batch_{batch.batch_size}.items_per_s"] = batch.items_per_s
    rep = report.reproducibility
    if rep.artifacts_identical is not None:
        found["reproducibility.artifacts_identical"] = float(rep.artifacts_identical)
    for run in rep.training_runs:
        found[f"reproducibility.run_{run.run}.train_s"] = run.train_s
    for phase, result in report.phases.items():
        found[f"phases.{_key(phase)}.duration_s"] = result.duration_s
        found[f"phases.{_key(phase)}.peak_memory_mb"] = result.peak_memory_mb
    if report.rubric is not None:
        found["rubric.total"] = report.rubric.total
        found["rubric.automatic_total"] = report.rubric.automatic_total
        for section in report.rubric.sections:
            found[f"rubric.{_key(section.id)}"] = section.points
    if report.duration_s is not None:
        found["duration_s"] = report.duration_s
    return {k: float(v) for k, v in found.items() if v is not None and math.isfinite(v)}


def _params(report: Report) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, v) for k, v in params(report).items()]


def _metrics(report: Report) -> list[Any]:
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [Metric(k, v, now, 0) for k, v in metrics(report).items()]


def _key(text: str) -> str:
    """A metric-name-safe form of a label (MLflow allows letters, digits, ``_ - . / :`` and spaces)."""
    safe = "".join(c if c.isalnum() or c in "_-." else "_" for c in text)
    if safe == text:
        return safe
    return f"{safe}_{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def _safe_uri(uri: str) -> str:
    """The URI without a password, for messages and reports."""
    return _scrub(uri, uri)


def _scrub(uri: str, text: str) -> str:
    """``text`` with the password of ``uri`` replaced (MLflow's own errors repeat the URI)."""
    password = urlparse(uri).password
    return text.replace(f":{password}@", ":***@").replace(password, "***") if password else text


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def download_reports(tracking: Tracking, task_id: str, dest: Path) -> list[Path]:
    """The ``report.json`` (and ``predictions.csv``, ``report.html``) of every run in the task's experiment,
    downloaded to ``dest/<run id>/``.

    For ``grader compare --mlflow TASK``. Raises :class:`~grader.errors.UsageError` when the store is a
    local one that does not exist (it is not created) or the experiment does not exist.
    """
    from grader.errors import UsageError
    from grader.report.write import HTML_FILE, PREDICTIONS_FILE, REPORT_FILE

    uri = require_store(tracking)
    client = _client(uri)
    experiment = client.get_experiment_by_name(task_id)
    if experiment is None:
        names = [e.name for e in client.search_experiments()]
        raise UsageError(f"no MLflow experiment named {task_id!r} in {_safe_uri(uri)}",
                         f"experiments there: {', '.join(names) or 'none'}; gradings log to the experiment "
                         "named after their task id")
    paths = []
    for run in client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"]):
        logged = {a.path for a in client.list_artifacts(run.info.run_id)}
        if REPORT_FILE not in logged:
            continue  # logged without an output folder: nothing to compare
        folder = dest / run.info.run_id
        folder.mkdir(parents=True, exist_ok=True)
        paths.append(Path(client.download_artifacts(run.info.run_id, REPORT_FILE, str(folder))))
        # predictions.csv: for the paired comparison on the hidden rows; report.html: what the page links to.
        for name in (PREDICTIONS_FILE, HTML_FILE):
            if name in logged:
                client.download_artifacts(run.info.run_id, name, str(folder))
    return paths


def logged_where(report: Report, tracking: Tracking | None) -> str:
    """One line for a grading's summary: the run and the store it was logged to, or why it was not."""
    run = report.environment.mlflow
    if run is not None:
        return f"Logged to MLflow: run {run.run_id} (experiment {report.task.id}) in {run.tracking_uri}"
    if tracking is None:
        return "Not logged to MLflow (--no-mlflow)."
    return f"Not logged to MLflow ({_safe_uri(tracking.resolved_uri)}): see the warning in the report."


@dataclass(frozen=True)
class ReviewSync:
    """What became of a review's MLflow run: ``updated``, and a sentence for the interviewer either way."""

    updated: bool
    message: str


def record_review(report: Report, folder: Path, criterion: str, review: Review,
                  uri: str | None = None) -> ReviewSync:
    """Bring the run of a reviewed report up to date: the reviewed score and totals as metrics, who reviewed
    which criterion when as tags, and the rewritten report files as artifacts (so ``compare --mlflow`` sees
    the review).

    ``uri`` overrides the store the report recorded (``environment.mlflow.tracking_uri``: it has no password,
    and a store may move). Never raises and never creates a store: the review is kept in the report folder
    whatever happens here, and the result says whether the run was updated and why not.
    """
    import time

    from mlflow.entities import Metric, RunTag

    logged = report.environment.mlflow
    if logged is None:
        return ReviewSync(False, "MLflow run not updated: the grading was not logged to MLflow "
                                 "(graded with --no-mlflow, or the logging failed).")
    target = _absolute_sqlite(uri or logged.tracking_uri)
    where = _safe_uri(target)
    if uri is None and "***" in target:
        return ReviewSync(False, f"MLflow run {logged.run_id} not updated: the report records {where} without "
                                 "its password; pass --mlflow-uri with the credentials.")
    missing = missing_store(target)
    if missing is not None:
        return ReviewSync(False, f"MLflow run {logged.run_id} not updated: no MLflow store at {missing} "
                                 "(moved or deleted?); pass --mlflow-uri to point at it.")
    _http_defaults(target)
    now = int(time.time() * 1000)
    found = {"review.score": report.score, "score": report.score, "passed": float(report.passed),
             f"review.{_key(criterion)}.points": review.points}
    if report.rubric is not None:
        found["rubric.total"] = report.rubric.total
        found.update({f"rubric.{_key(s.id)}": s.points for s in report.rubric.sections})
    values = [Metric(k, float(v), now, 1) for k, v in found.items() if v is not None and math.isfinite(v)]
    try:
        client = _client(target)
        client.get_run(logged.run_id)  # a run that is not there: said as such, not as a failed batch
        marks = {"grader.reviewed": "true", "grader.reviewed_by": review.reviewer, "grader.reviewed_at": review.at,
                 "grader.reviewed_criterion": criterion, "passed": str(report.passed).lower()}
        client.log_batch(logged.run_id, metrics=values, tags=[RunTag(k, v) for k, v in marks.items()])
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.startswith("."):
                client.log_artifact(logged.run_id, str(path))
    except Exception as exc:  # noqa: BLE001 - the review is kept in the folder; MLflow is a copy
        return ReviewSync(False, _scrub(target, f"MLflow run {logged.run_id} not updated: {where} failed "
                                                f"({type(exc).__name__}: {_first_line(exc)}); the review is kept in "
                                                f"{folder}; the next review of this report updates the run."))
    return ReviewSync(True, f"MLflow run {logged.run_id} updated in {where}: reviewed score {points(report.score)}.")
