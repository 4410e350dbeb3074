"""Writing a report's files: every writer of ``report.json`` goes through here, and every format is
rendered from the same :class:`Report`. Writing never scores: the pipeline and ``grader review``
apply the interviewers' reviews (:mod:`grader.rubric.review`) before they write.

``report.json`` is written first and always: a renderer that fails (a bug, a full disk) becomes a
warning in the report, never a lost grading.
"""

from __future__ import annotations

import importlib
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from grader.errors import GraderError, UsageError
from grader.spec.report import Report

REPORT_FILE = "report.json"
#: The scored predictions beside a graded report: ``row``, ``prediction``, and ``proba_<class>`` columns when
#: the model gave probabilities. Paired comparisons (``grader compare``, ``grader grade --baseline``) read it.
PREDICTIONS_FILE = "predictions.csv"
#: The page a person opens (what ``grader compare``'s links point at).
HTML_FILE = "report.html"

#: The other files written beside report.json, each by a module's ``render(report) -> str``.
#: Imported when writing, so a broken renderer cannot stop the grader from starting.
RENDERERS: dict[str, str] = {
    "report.md": "grader.report.markdown",
    HTML_FILE: "grader.report.html",
    "junit.xml": "grader.report.junit",
}


def renderer(filename: str) -> Callable[[Report], str]:
    """The ``render`` function that makes ``filename`` (one of :data:`RENDERERS`)."""
    return importlib.import_module(RENDERERS[filename]).render


def write_reports(report: Report, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / REPORT_FILE, report.model_dump_json(indent=2) + "\n")
    failed = False
    for filename in RENDERERS:
        try:
            text = renderer(filename)(report)
        except Exception as exc:  # noqa: BLE001 - one format's bug must not cost the others
            warning = (f"{filename} could not be written ({type(exc).__name__}: {exc}); "
                       "report.json has every figure")
            if warning not in report.warnings:  # a re-write (a review) must not repeat it
                report.warnings.append(warning)
                failed = True
            continue
        write_atomic(out_dir / filename, text)
    if failed:
        write_atomic(out_dir / REPORT_FILE, report.model_dump_json(indent=2) + "\n")


def swap_in(source: Path, folder: Path) -> None:
    """``source`` (a finished report folder beside ``folder``) becomes ``folder`` by renames: a reader sees
    the old report or the new one, never half of one."""
    old = folder.with_name(f".{folder.name}.old-{time.time_ns()}") if folder.exists() else None
    if old is not None:
        folder.rename(old)
    source.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` atomically: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def read_report(folder: Path) -> Report:
    path = folder / REPORT_FILE
    if not path.is_file():
        raise UsageError(f"{path} not found", "pass the folder `grader grade --out` wrote")
    try:
        return Report.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise GraderError(f"{path} is not a report this grader can read: {exc.errors()[0]['msg']}") from None


def write_predictions(folder: Path, labels: np.ndarray, proba: np.ndarray | None, classes: list[str]) -> None:
    """``predictions.csv``: the scored labels, and each class's probability when the model gave them."""
    import pandas as pd

    frame = pd.DataFrame({"prediction": labels})
    if proba is not None:
        for i, cls in enumerate(classes):
            frame[f"proba_{cls}"] = proba[:, i]
    frame.to_csv(folder / PREDICTIONS_FILE, index_label="row", lineterminator="\n")


def read_predictions(folder: Path, classes: list[str], rows: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The labels (and probabilities, columns in ``classes`` order, when every class has one) a report
    folder's ``predictions.csv`` holds for the ``rows`` hidden rows it was graded on."""
    import pandas as pd

    path = folder / PREDICTIONS_FILE
    hint = "pass a folder written by `grader grade --out` for a graded submission"
    if not path.is_file():
        raise UsageError(f"{path} not found: the report has no predictions to compare with", hint)
    try:
        frame = pd.read_csv(path, dtype={"prediction": str}, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise UsageError(f"{path} cannot be read: {exc}", hint) from None
    if "prediction" not in frame or len(frame) != rows:
        raise UsageError(f"{path} does not hold {rows} predictions in a 'prediction' column", hint)
    unknown = sorted(set(frame["prediction"]) - set(classes))
    if unknown:
        raise UsageError(f"{path} has labels that are not the task's classes: {', '.join(unknown[:5])}", hint)
    labels = frame["prediction"].to_numpy(dtype=object)
    columns = [f"proba_{c}" for c in classes]
    proba = frame[columns].to_numpy(dtype=float) if all(c in frame for c in columns) else None
    return labels, proba
