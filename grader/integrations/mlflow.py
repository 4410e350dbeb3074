"""MLflow logging: one run per grading, in an experiment named after the task.

The report is always written before MLflow is touched, and :func:`log_grading` never raises: an
MLflow failure (server down, locked database, bad URI) becomes a warning in the report, never a
lost grading. The default store is MLflow's own embedded one, a SQLite database ``mlflow.db`` in
the working folder, which needs no server; ``--mlflow-uri`` or ``MLFLOW_TRACKING_URI`` points at a
tracking server instead.

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from grader.report.model import Report

DEFAULT_DB = "mlflow.db"


@dataclass(frozen=True)
class Tracking:
    """Where gradings are logged. ``uri`` None: ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``."""

    uri: str | None = None

    @property
    def resolved_uri(self) -> str:
        uri = self.uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{DEFAULT_DB}"
        return _absolute_sqlite(uri)


def _absolute_sqlite(uri: str) -> str:
    """``sqlite:///mlflow.db`` relative to the working folder, made absolute (the lock needs the path)."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    return uri


def _sqlite_path(uri: str) -> Path | None:
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def _client(uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    # Schema creation and migrations log at INFO on every new store: noise in a grading's output.
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri)


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


def log_grading(report: Report, out_dir: Path | None, tracking: Tracking) -> str | None:
    """Log ``report`` (and the files in ``out_dir``) as one MLflow run; returns its id.

    Never raises: a failure is appended to ``report.warnings`` and None is returned.
    """
    uri = tracking.resolved_uri
    if uri.startswith(("http://", "https://")):
        # MLflow's defaults retry an unreachable server for minutes; a grading should not wait that long.
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    try:
        prepare_store(tracking)
        client = _client(uri)
        exp = experiment_id(client, uri, report.task.id)
        run = client.create_run(exp, run_name=run_name(report), tags=tags(report))
        run_id = run.info.run_id
        try:
            client.log_batch(run_id, params=_params(report), metrics=_metrics(report))
            if out_dir is not None and out_dir.is_dir():
                client.log_artifacts(run_id, str(out_dir))
        except BaseException:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id, status="FINISHED")
    except Exception as exc:  # noqa: BLE001 - MLflow must never cost a grading
        report.warnings.append(_scrub(uri, f"MLflow logging to {uri} failed ({type(exc).__name__}: "
                                      f"{_first_line(exc)}); the reports in the output folder are complete. Check "
                                      "the tracking URI (--mlflow-uri / MLFLOW_TRACKING_URI) or use --no-mlflow"))
        return None
    report.environment["mlflow"] = {"tracking_uri": _safe_uri(uri), "experiment_id": exp, "run_id": run_id}
    return run_id


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
        "grader_version": str(report.environment.get("grader_version", "")),
    }
    return {k: v for k, v in values.items() if v != ""}


def params(report: Report) -> dict[str, str]:
    """What the grading was run with: task, submission, runtime image, limits, seeds, rubric."""
    env = report.environment
    sandbox = env.get("sandbox") or {}
    values: dict[str, Any] = {
        "task_id": report.task.id,
        "task_version": report.task.version,
        "submission_sha256": report.submission.sha256,
        "submission_path": report.submission.path,
        "runtime_image": sandbox.get("image"),
        "runtime_image_id": sandbox.get("image_id"),
        "sandbox_backend": sandbox.get("backend"),
        "seed": env.get("seed"),
        "reproducibility_runs": report.reproducibility.runs or None,
        "other_seed": (env.get("reproducibility_settings") or {}).get("other_seed"),
        "rubric": f"{report.rubric.id}@{report.rubric.version}" if report.rubric else None,
        "evaluated_on": report.evaluated_on,
    }
    for key, value in (env.get("limits") or {}).items():
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
    """The ``report.json`` of every run in the task's experiment, downloaded to ``dest/<run id>/``.

    For ``grader compare --mlflow TASK``. Raises :class:`~grader.errors.GraderError` when the
    experiment does not exist.
    """
    from grader.errors import GraderError

    uri = tracking.resolved_uri
    client = _client(uri)
    experiment = client.get_experiment_by_name(task_id)
    if experiment is None:
        names = [e.name for e in client.search_experiments()]
        raise GraderError(f"no MLflow experiment named {task_id!r} in {_safe_uri(uri)}",
                          f"experiments there: {', '.join(names) or 'none'}; gradings log to the experiment "
                          "named after their task id")
    paths = []
    for run in client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"]):
        if "report.json" not in {a.path for a in client.list_artifacts(run.info.run_id)}:
            continue  # logged without an output folder: nothing to compare
        folder = dest / run.info.run_id
        folder.mkdir(parents=True, exist_ok=True)
        paths.append(Path(client.download_artifacts(run.info.run_id, "report.json", str(folder))))
    return paths
