import numpy as np
import pytest

from grader.evaluate import scoring
from grader.evaluate.metrics import Outcome, compute, metrics

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

    from grader.evaluate.metrics import Outcome, roc_auc

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

    from grader.evaluate.scoring import Checked, per_class
    from grader.spec.task import get_task

    task = get_task("cv/fashion-mnist")
    y_true = np.array(["Shirt", "Shirt", "T-shirt/top", "Bag"], dtype=object)
    pred = np.array(["Shirt", "T-shirt/top", "T-shirt/top", "Bag"], dtype=object)
    table = per_class(task, y_true, Checked(labels=pred))
    assert list(table) == task.classes
    assert table["Shirt"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert table["T-shirt/top"]["precision"] == 0.5 and table["Sandal"]["support"] == 0


def _task(classes, positive):
    from types import SimpleNamespace

    return SimpleNamespace(classes=classes, positive_class=positive)


def test_pr_curve_of_the_positive_class_matches_hand_computed_points():
    # scores of "bad": 0.9 (bad), 0.7 (good), 0.4 (bad), 0.2 (good), 0.1 (good)
    y = np.array(["bad", "good", "bad", "good", "good"], dtype=object)
    proba = np.array([[0.1, 0.9], [0.3, 0.7], [0.6, 0.4], [0.8, 0.2], [0.9, 0.1]])
    labels = np.array(["bad", "bad", "good", "good", "good"], dtype=object)
    [curve] = scoring.pr_curves(_task(CLASSES, "bad"), y, scoring.Checked(labels=labels, proba=proba))
    assert (curve.label, curve.support, curve.prevalence) == ("bad", 2, 0.4)
    points = set(zip(curve.recall, curve.precision, strict=True))
    assert {(1.0, 0.6667), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)} <= points
    assert curve.recall[0] == 1.0 and curve.recall[-1] == 0.0
    # the hard labels flag two items, one of them bad
    assert (curve.operating_precision, curve.operating_recall) == (0.5, 0.5)
    assert curve.average_precision == pytest.approx((1.0 + 2 / 3) / 2, abs=1e-4)


def test_pr_curves_are_one_vs_rest_for_multiclass_and_skip_absent_classes():
    classes = ["a", "b", "c"]
    y = np.array(["a", "a", "b", "b", "a", "b"], dtype=object)  # no "c"
    proba = np.array([[0.8, 0.1, 0.1], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1],
                      [0.6, 0.3, 0.1], [0.3, 0.3, 0.4], [0.1, 0.8, 0.1]])
    labels = np.array(["a", "a", "b", "a", "c", "b"], dtype=object)
    curves = scoring.pr_curves(_task(classes, None), y, scoring.Checked(labels=labels, proba=proba))
    assert [c.label for c in curves] == ["a", "b"]
    a, b = curves
    assert (a.operating_precision, a.operating_recall) == (0.6667, 0.6667)  # 3 predicted "a", 2 right; 3 true "a"
    assert (b.operating_precision, b.operating_recall) == (1.0, 0.6667)
    # the "b" column ranks b, b, a, then a b tied with an a: AP = 1/3 * 1 + 1/3 * 1 + 1/3 * 3/5
    assert b.average_precision == pytest.approx(13 / 15, abs=1e-4)


def test_pr_curve_is_downsampled_deterministically_keeping_both_ends():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(5000) < 0.3, "bad", "good").astype(object)
    score = np.clip(rng.normal(0.5, 0.2, 5000) + (y == "bad") * 0.2, 0, 1)
    proba = np.stack([1 - score, score], axis=1)
    checked = scoring.Checked(labels=np.where(score > 0.6, "bad", "good").astype(object), proba=proba)
    first = scoring.pr_curves(_task(CLASSES, "bad"), y, checked)[0]
    again = scoring.pr_curves(_task(CLASSES, "bad"), y, checked)[0]
    assert first == again
    assert 100 < len(first.precision) == len(first.recall) <= scoring.CURVE_POINTS
    assert first.recall[0] == 1.0 and (first.recall[-1], first.precision[-1]) == (0.0, 1.0)
    assert all(x >= y_ for x, y_ in zip(first.recall, first.recall[1:], strict=False))  # recall only falls


def test_no_pr_curves_without_probabilities():
    y = np.array(["bad", "good"], dtype=object)
    assert scoring.pr_curves(_task(CLASSES, "bad"), y, scoring.Checked(labels=y)) == []
