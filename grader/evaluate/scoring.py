"""Host-side checks of what the harness returned, and the scores computed from it.

Predictions are judged here, never in the sandbox: the hidden labels stay on the host.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from grader.evaluate import metrics as m
from grader.spec.report import PRCurve
from grader.spec.task import TaskSpec

PROBA_TOLERANCE = 1e-3
#: Points kept per precision-recall curve: enough to draw it, few enough to keep report.json small.
CURVE_POINTS = 200


@dataclass
class Checked:
    """Predictions that passed the checks (``labels``), or the problems found."""

    labels: np.ndarray | None = None
    proba: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)
    #: Problems with predict_proba only: labels are still scored, proba metrics are not.
    proba_problems: list[str] = field(default_factory=list)


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _positions(indices: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def check_labels(raw: Any, n: int, classes: list[str]) -> tuple[np.ndarray | None, list[str]]:
    if not isinstance(raw, list):
        return None, [f"predict(inputs) returned {type(raw).__name__}, not a sequence of labels"]
    if len(raw) != n:
        return None, [f"predict(inputs) returned {len(raw)} predictions for {n} inputs: "
                      "it must return exactly one label per input row, in the same order"]
    problems = []
    missing = [i for i, x in enumerate(raw) if _missing(x)]
    if missing:
        problems.append(f"{len(missing)} predictions are missing (None or NaN), at positions {_positions(missing)}")
    nested = [i for i, x in enumerate(raw) if isinstance(x, list)]
    if nested:
        problems.append(f"predictions must be one label per input, but position {nested[0]} holds a list "
                        "(did you return predict_proba output, or a 2-D array?)")
        return None, problems
    unknown = Counter(str(x) for x in raw if not _missing(x) and str(x) not in classes)
    if unknown:
        shown = ", ".join(f"{k!r} ({v}x)" for k, v in unknown.most_common(5))
        problems.append(f"predictions contain labels that are not among the task's classes {classes}: {shown}; "
                        "return the class names themselves, as strings")
    if problems:
        return None, problems
    return np.asarray([str(x) for x in raw], dtype=object), []


def check_proba(raw: Any, n: int, classes: list[str]) -> tuple[np.ndarray | None, list[str]]:
    k = len(classes)
    try:
        arr = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        return None, [f"predict_proba(inputs) did not return an {n} x {k} array of numbers"]
    if arr.shape != (n, k):
        return None, [f"predict_proba(inputs) returned shape {arr.shape}, expected ({n}, {k}): "
                      f"one row per input, one column per class in the order {classes}"]
    bad = np.flatnonzero(~np.isfinite(arr).all(axis=1)).tolist()
    if bad:
        return None, [f"predict_proba(inputs) has NaN or infinite values in rows {_positions(bad)}"]
    if (arr < -PROBA_TOLERANCE).any() or (arr > 1 + PROBA_TOLERANCE).any():
        return None, ["predict_proba(inputs) has values outside [0, 1]"]
    off = np.flatnonzero(np.abs(arr.sum(axis=1) - 1) > PROBA_TOLERANCE).tolist()
    if off:
        return None, [f"predict_proba(inputs) rows do not sum to 1 (rows {_positions(off)})"]
    return arr, []


def check(payload: dict[str, Any], n: int, classes: list[str]) -> Checked:
    labels, problems = check_labels(payload.get("predictions"), n, classes)
    result = Checked(labels=labels, problems=problems)
    if payload.get("proba_error"):
        result.proba_problems.append("predict_proba(inputs) raised an exception:\n" + str(payload["proba_error"]))
    elif payload.get("proba") is not None:
        result.proba, result.proba_problems = check_proba(payload["proba"], n, classes)
    return result


def outcome_of(task: TaskSpec, y_true: np.ndarray, checked: Checked) -> m.Outcome:
    """What the metrics look at, for checked predictions."""
    assert checked.labels is not None
    return m.Outcome(y_true=np.asarray(y_true, dtype=object), y_pred=checked.labels,
                     classes=task.classes, positive_class=task.positive_class, proba=checked.proba)


def score(task: TaskSpec, y_true: np.ndarray, checked: Checked) -> tuple[dict[str, float | None], dict[str, Any]]:
    """Metrics and the confusion matrix on the hidden test split."""
    outcome = outcome_of(task, y_true, checked)
    values = m.compute(task.metrics, outcome)
    matrix = {"labels": list(task.classes), "rows": "true", "columns": "predicted", "matrix": m.confusion(outcome)}
    return values, matrix


def per_class(task: TaskSpec, y_true: np.ndarray, checked: Checked) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of every class: where a multiclass model errs."""
    from sklearn.metrics import precision_recall_fscore_support

    assert checked.labels is not None
    p, r, f, n = precision_recall_fscore_support(np.asarray(y_true, dtype=object), checked.labels,
                                                 labels=list(task.classes), zero_division=0)
    return {c: {"precision": round(float(p[i]), 4), "recall": round(float(r[i]), 4), "f1": round(float(f[i]), 4),
                "support": int(n[i])} for i, c in enumerate(task.classes)}


def pr_curves(task: TaskSpec, y_true: np.ndarray, checked: Checked) -> list[PRCurve]:
    """Precision-recall curves from predict_proba: the positive class of a binary task, every class
    (one against the rest) of a multiclass one; none without probabilities. A class absent from the
    split has no curve (its recall is undefined)."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    if checked.proba is None or checked.labels is None:
        return []
    truth = np.asarray(y_true, dtype=object)
    classes = [task.positive_class] if task.positive_class is not None else list(task.classes)
    curves = []
    for cls in classes:
        actual = truth == cls
        if not actual.any():
            continue
        scores = checked.proba[:, list(task.classes).index(cls)]
        precision, recall, _ = precision_recall_curve(actual, scores, drop_intermediate=True)
        keep = _spread(len(precision), CURVE_POINTS)
        predicted = checked.labels == cls
        hits = int((actual & predicted).sum())
        curves.append(PRCurve(
            label=cls, support=int(actual.sum()), prevalence=round(float(actual.mean()), 4),
            average_precision=round(float(average_precision_score(actual, scores)), 4),
            precision=[round(float(v), 4) for v in precision[keep]],
            recall=[round(float(v), 4) for v in recall[keep]],
            operating_precision=round(hits / int(predicted.sum()), 4) if predicted.any() else 0.0,
            operating_recall=round(hits / int(actual.sum()), 4)))
    return curves


def _spread(n: int, most: int) -> np.ndarray:
    """At most ``most`` indices of ``range(n)``, evenly spread, always keeping both ends."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, most)).astype(int))
