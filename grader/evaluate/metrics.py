"""Metrics: pure functions of labels and predictions, each declaring whether higher is better.

Scores come from scikit-learn; this module only adapts the task's class names to it.
Binary tasks score the positive class; multiclass tasks use macro averages.
scikit-learn and numpy are imported by the functions that score, so that naming the metrics
(loading a task spec, ``grader task list``) stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.registry import Registry

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Outcome:
    """Everything a metric may look at. ``proba`` columns follow ``classes``."""

    y_true: np.ndarray
    y_pred: np.ndarray
    classes: Sequence[str]
    positive_class: str | None
    proba: np.ndarray | None = None

    @property
    def binary(self) -> bool:
        return self.positive_class is not None


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[[Outcome], float | None]
    higher_is_better: bool
    needs_proba: bool = False
    description: str = ""
    #: Multiclass tasks score it per class against the rest, then average over the classes.
    macro: bool = False

    def __call__(self, outcome: Outcome) -> float | None:
        if self.needs_proba and outcome.proba is None:
            return None
        value = self.fn(outcome)
        return None if value is None else float(value)


metrics: Registry[Metric] = Registry("metric")


def metric(name: str, *, higher_is_better: bool, needs_proba: bool = False, description: str = "",
           macro: bool = False):
    def decorator(fn: Callable[[Outcome], float | None]) -> Callable[[Outcome], float | None]:
        metrics.register(name)(Metric(name, fn, higher_is_better, needs_proba, description, macro))
        return fn

    return decorator


def _averaging(o: Outcome) -> dict[str, object]:
    if o.binary:
        return {"average": "binary", "pos_label": o.positive_class}
    return {"average": "macro", "labels": list(o.classes)}


@metric("precision", higher_is_better=True, macro=True,
        description="Of the items predicted positive, the share that are.")
def precision(o: Outcome) -> float:
    from sklearn import metrics as skm
    return skm.precision_score(o.y_true, o.y_pred, zero_division=0, **_averaging(o))


@metric("recall", higher_is_better=True, macro=True, description="Of the positive items, the share predicted positive.")
def recall(o: Outcome) -> float:
    from sklearn import metrics as skm
    return skm.recall_score(o.y_true, o.y_pred, zero_division=0, **_averaging(o))


@metric("f1", higher_is_better=True, macro=True, description="Harmonic mean of precision and recall.")
def f1(o: Outcome) -> float:
    from sklearn import metrics as skm
    return skm.f1_score(o.y_true, o.y_pred, zero_division=0, **_averaging(o))


@metric("accuracy", higher_is_better=True, description="Share of all items predicted correctly.")
def accuracy(o: Outcome) -> float:
    from sklearn import metrics as skm
    return skm.accuracy_score(o.y_true, o.y_pred)


@metric("balanced_accuracy", higher_is_better=True, description="Mean recall over classes.")
def balanced_accuracy(o: Outcome) -> float:
    from sklearn import metrics as skm
    return skm.balanced_accuracy_score(o.y_true, o.y_pred)


def _positive_scores(o: Outcome) -> np.ndarray:
    assert o.proba is not None and o.positive_class is not None
    return o.proba[:, list(o.classes).index(o.positive_class)]


@metric("roc_auc", higher_is_better=True, needs_proba=True, macro=True,
        description="Chance a random positive is ranked above a random negative.")
def roc_auc(o: Outcome) -> float | None:
    from sklearn import metrics as skm
    if len(set(o.y_true.tolist())) < 2:
        return None
    if o.binary:
        return skm.roc_auc_score(o.y_true == o.positive_class, _positive_scores(o))
    assert o.proba is not None  # needs_proba: only called with probabilities
    # scikit-learn wants the labels sorted, with the probability columns in that order.
    order = sorted(range(len(o.classes)), key=lambda i: o.classes[i])
    return skm.roc_auc_score(o.y_true, o.proba[:, order], multi_class="ovr", labels=[o.classes[i] for i in order])


@metric("average_precision", higher_is_better=True, needs_proba=True, macro=True,
        description="Area under the precision-recall curve of the positive class.")
def average_precision(o: Outcome) -> float | None:
    import numpy as np
    from sklearn import metrics as skm
    if o.binary:
        return skm.average_precision_score(o.y_true == o.positive_class, _positive_scores(o))
    onehot = np.stack([o.y_true == c for c in o.classes], axis=1)
    return skm.average_precision_score(onehot, o.proba, average="macro")


def confusion(o: Outcome) -> list[list[int]]:
    """Rows are true classes, columns predicted classes, both in ``classes`` order."""
    from sklearn import metrics as skm
    return skm.confusion_matrix(o.y_true, o.y_pred, labels=list(o.classes)).tolist()


def compute(names: Sequence[str], o: Outcome) -> dict[str, float | None]:
    return {name: metrics.get(name)(o) for name in names}
