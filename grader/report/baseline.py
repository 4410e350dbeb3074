"""``grader grade --baseline REPORT_DIR``: a previous grading of the same task (a candidate's earlier
revision, the main branch of a task repository) and the change of every figure from it.

Metrics change with a paired bootstrap on the hidden rows (both predictions are scored on the same
resampled rows; the baseline's are in its folder's ``predictions.csv``), so a pull request that moves
recall by 0.01 is told whether that is a real change or noise. Score, latency and the other figures
get their change alone. A baseline that cannot be compared (another task, no predictions, not a
grading of the hidden split) is a usage error before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.errors import GraderError, UsageError
from grader.evaluate import uncertainty
from grader.evaluate.figures import figures
from grader.evaluate.metrics import Outcome
from grader.report.write import read_predictions, read_report
from grader.spec.report import BaselineComparison, PairedDifference, Report
from grader.spec.task import TaskSpec

HINT = "pass the --out folder of an earlier `grader grade` of the same task"


class BaselineError(UsageError):
    """The baseline cannot be compared with this grading: the command was wrong, not the submission (exit 2)."""


@dataclass(frozen=True)
class Baseline:
    """A previous grading and its scored predictions on the hidden rows."""

    folder: Path
    report: Report
    labels: np.ndarray
    proba: np.ndarray | None


def load(folder: Path, task: TaskSpec) -> Baseline:
    """The baseline in ``folder``, checked against ``task``: a graded report of it with its predictions."""
    try:
        report = read_report(folder)
    except GraderError as exc:
        raise BaselineError(exc.message, HINT) from None
    if report.task.id != task.id:
        raise BaselineError(f"the baseline {folder} is a grading of {report.task.id}, not of {task.id}", HINT)
    if report.task.version != task.version:
        raise BaselineError(f"the baseline {folder} graded version {report.task.version} of {task.id}; this grader "
                         f"has version {task.version}, whose hidden rows may differ", HINT)
    if report.status != "graded" or report.evaluated_on != "test" or not report.metrics:
        what = "a self-check on the public split" if report.evaluated_on == "valid" else f"status {report.status}"
        raise BaselineError(f"the baseline {folder} has no scored predictions on the hidden split ({what})", HINT)
    from grader.data.splits import labels as split_labels

    rows = len(split_labels(task, "test"))
    try:
        labels, proba = read_predictions(folder, task.classes, rows)
    except GraderError as exc:
        raise BaselineError(exc.message, exc.hint) from None
    return Baseline(folder, report, labels, proba)


def versus(base: Baseline, outcome: Outcome, names: list[str]) -> BaselineComparison:
    """The metrics' change from the baseline, paired on the hidden rows (the rest: :func:`finish`)."""
    theirs = Outcome(outcome.y_true, base.labels, outcome.classes, outcome.positive_class, base.proba)
    return BaselineComparison(
        source=str(base.folder), candidate=base.report.submission.candidate,
        submission_sha256=base.report.submission.sha256, started_at=base.report.started_at,
        passed=base.report.passed, score=_change(None, base.report.score),
        metrics=uncertainty.paired(outcome, theirs, names))


def finish(report: Report, base: Baseline) -> None:
    """Score and the other figures' change, once the report's are final (reviews applied); a grading that
    scored nothing still says what the baseline had."""
    if report.baseline is None:
        report.baseline = BaselineComparison(
            source=str(base.folder), candidate=base.report.submission.candidate,
            submission_sha256=base.report.submission.sha256, started_at=base.report.started_at,
            passed=base.report.passed, score=_change(None, base.report.score),
            metrics={n: _change(None, v) for n, v in base.report.metrics.items() if v is not None},
            notes=["this grading scored no predictions, so nothing was compared row by row"])
    report.baseline.score = _change(report.score, base.report.score)
    for name in figures.names():
        figure = figures.get(name)
        value, other = figure.value(report), figure.value(base.report)
        if value is not None or other is not None:
            report.baseline.figures[name] = _change(value, other)


def _change(value: float | None, other: float | None) -> PairedDifference:
    delta = None if value is None or other is None else round(value - other, 4)
    return PairedDifference(value=value, other=other, delta=delta)
