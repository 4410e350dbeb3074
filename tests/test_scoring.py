import numpy as np
import pytest

from grader import scoring
from grader.metrics import Outcome, compute, metrics

CLASSES = ["good", "bad"]


def test_metrics_match_hand_computed_values():
    y = np.array(["bad", "bad", "good", "good", "good"], dtype=object)
    p = np.array(["bad", "good", "bad", "good", "good"], dtype=object)
    proba = np.array([[0.1, 0.9], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2], [0.9, 0.1]])
    got = compute(["precision", "recall", "f1", "accuracy", "roc_auc", "average_precision"],
                  Outcome(y, p, CLASSES, "bad", proba))
    assert got["precision"] == pytest.approx(0.5)
    assert got["recall"] == pytest.approx(0.5)
    assert got["accuracy"] == pytest.approx(0.6)
    # positives scored 0.9, 0.4; negatives 0.7, 0.2, 0.1 -> 5 of 6 pairs ranked right
    assert got["roc_auc"] == pytest.approx(5 / 6)
    assert 0 < got["average_precision"] <= 1


def test_proba_metrics_absent_without_proba():
    y = np.array(["bad", "good"], dtype=object)
    assert compute(["roc_auc"], Outcome(y, y, CLASSES, "bad")) == {"roc_auc": None}


def test_every_metric_declares_direction():
    assert all(isinstance(metrics.get(n).higher_is_better, bool) for n in metrics.names())


@pytest.mark.parametrize("raw, message", [
    (["good"] * 3, "returned 3 predictions for 4 inputs"),
    (["good", "bad", "0", "1"], "not among the task's classes"),
    (["good", None, "bad", float("nan")], "2 predictions are missing"),
    ([["good"], "bad", "bad", "bad"], "holds a list"),
    ("good", "not a sequence"),
])
def test_bad_labels_are_explained(raw, message):
    labels, problems = scoring.check_labels(raw, 4, CLASSES)
    assert labels is None and any(message in p for p in problems), problems


@pytest.mark.parametrize("raw, message", [
    ([[0.5, 0.5]] * 3, "expected (4, 2)"),
    ([[0.5, 0.5]] * 3 + [[None, 1.0]], "NaN or infinite"),
    ([[0.2, 0.2]] * 4, "do not sum to 1"),
    ([[1.5, -0.5]] * 4, "outside [0, 1]"),
    ([["a", "b"]] * 4, "array of numbers"),
])
def test_bad_proba_is_explained(raw, message):
    arr, problems = scoring.check_proba(raw, 4, CLASSES)
    assert arr is None and any(message in p for p in problems), problems


def test_check_keeps_labels_when_only_proba_is_bad():
    checked = scoring.check({"predictions": ["good", "bad"], "proba": [[1.0]]}, 2, CLASSES)
    assert checked.labels is not None and checked.proba is None and checked.proba_problems


def test_multiclass_roc_auc_with_classes_in_any_order():
    """The task's class order is its own (T-shirt/top before Trouser before Pullover...), not sorted."""
    import numpy as np

    from grader.metrics import Outcome, roc_auc

    classes = ["zebra", "apple", "mango"]
    y_true = np.array(["zebra", "apple", "mango", "apple", "zebra", "mango"], dtype=object)
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1],
                      [0.2, 0.1, 0.7]])
    perfect = Outcome(y_true=y_true, y_pred=y_true, classes=classes, positive_class=None, proba=proba)
    assert roc_auc(perfect) == 1.0
    shuffled = Outcome(y_true=y_true, y_pred=y_true, classes=classes, positive_class=None, proba=proba[:, [1, 0, 2]])
    assert roc_auc(shuffled) < 1.0  # columns no longer match the classes: the score must show it


def test_per_class_figures_for_a_multiclass_task():
    import numpy as np

    from grader.scoring import Checked, per_class
    from grader.spec.task import get_task

    task = get_task("cv/fashion-mnist")
    y_true = np.array(["Shirt", "Shirt", "T-shirt/top", "Bag"], dtype=object)
    pred = np.array(["Shirt", "T-shirt/top", "T-shirt/top", "Bag"], dtype=object)
    table = per_class(task, y_true, Checked(labels=pred))
    assert list(table) == task.classes
    assert table["Shirt"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert table["T-shirt/top"]["precision"] == 0.5 and table["Sandal"]["support"] == 0
