"""Whether the differences in a comparison are real: each candidate against the best of every metric, by
a paired bootstrap on the same hidden rows.

Candidates 0.01 apart on 891 rows may not differ at all. Every graded report folder keeps the scored
predictions (``predictions.csv``); the hidden labels come from the task. Each resample of the rows
scores every candidate on the same rows, so the interval is of the *difference* (what two models get
right together cancels), far narrower than two intervals side by side. A row whose interval contains 0
is within sampling noise of the best; one whose interval excludes it is really behind.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from grader.errors import GraderError
from grader.evaluate import uncertainty
from grader.evaluate.metrics import Outcome
from grader.report.write import REPORT_FILE, read_predictions

if TYPE_CHECKING:
    from grader.compare.table import Comparison, Row
    from grader.spec.task import TaskSpec

#: Marks of a metric's cell: the best value, within sampling noise of it, or really behind it.
WITHIN_NOISE = "≈"
BEHIND = "▼"
LEGEND = (f"{WITHIN_NOISE}: within sampling noise of the column's best (the 95% paired-bootstrap interval of "
          f"the difference contains 0); {BEHIND}: really behind it")


def folder_of(row: Row) -> Path:
    path = Path(row.source)
    return path.parent if path.name == REPORT_FILE else path


def attach(comparison: Comparison, task: TaskSpec | None = None) -> None:
    """Fill ``comparison.differences`` (one dict per row: metric -> difference from that metric's best row)
    and ``comparison.noise_notes`` (why a row or the whole table has none)."""
    from grader.data.splits import labels
    from grader.spec.task import get_task

    comparison.differences = [{} for _ in comparison.rows]
    graded = [i for i, row in enumerate(comparison.rows)
              if row.report is not None and row.report.status == "graded" and row.report.evaluated_on == "test"
              and row.report.metrics]
    if len(graded) < 2 or comparison.task is None:
        return
    notes = comparison.noise_notes
    try:
        task = task or get_task(comparison.task)
    except GraderError as exc:
        notes.append(f"no paired comparison: {exc.message}")
        return
    truth = labels(task, "test")
    outcomes: dict[int, Outcome] = {}
    for i in graded:
        row = comparison.rows[i]
        assert row.report is not None
        if row.report.task.version != task.version:
            notes.append(f"{row.candidate}: graded on version {row.report.task.version} of the task, this grader "
                         f"has version {task.version}; not compared row by row")
            continue
        try:
            pred, proba = read_predictions(folder_of(row), task.classes, len(truth))
        except GraderError as exc:
            notes.append(f"{row.candidate}: {exc.message}")
            continue
        outcome = Outcome(truth, pred, task.classes, task.positive_class, proba)
        mismatch = _mismatch(outcome, row.report.metrics)
        if mismatch:
            notes.append(f"{row.candidate}: predictions.csv does not give the report's {mismatch}; not compared")
            continue
        outcomes[i] = outcome
    names = [c.key for c in comparison.columns if c.key in uncertainty.estimators]
    if len(outcomes) < 2 or not names:
        return
    w = uncertainty.weights(uncertainty.Coded.of(next(iter(outcomes.values()))).truth)
    drawn = {i: uncertainty.samples(o, names, w) for i, o in outcomes.items()}
    for name in names:
        best = _best_row(comparison, name, drawn)
        if best is None:
            continue
        for i, samples in drawn.items():
            if i != best and name in samples:
                comparison.differences[i][name] = uncertainty.difference(samples[name], drawn[best][name])


def _best_row(comparison: Comparison, name: str, drawn: dict[int, dict]) -> int | None:
    """The first row (rows are sorted) with the column's best value among those with samples of it."""
    value = comparison.best(name)
    return next((i for i in drawn if name in drawn[i] and comparison.values[i].get(name) == value), None)


def _mismatch(outcome: Outcome, metrics: dict[str, float | None]) -> str | None:
    """The first metric of the report its predictions do not reproduce (a folder edited or mixed up)."""
    from grader.evaluate.metrics import metrics as registry

    for name, value in metrics.items():
        if value is None or name not in registry:
            continue
        got = registry.get(name)(outcome)
        if got is None or not np.isclose(got, value, atol=1e-6):
            return name
    return None


def mark(comparison: Comparison, index: int, key: str) -> str:
    """The noise mark of one cell: ≈, ▼ or nothing (the best, or not compared)."""
    if not comparison.differences:
        return ""
    diff = comparison.differences[index].get(key)
    if diff is None or diff.distinguishable is None:
        return ""
    return BEHIND if diff.distinguishable else WITHIN_NOISE
