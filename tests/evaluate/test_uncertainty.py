"""Bootstrap intervals and paired differences: exact at weight 1, stratified, deterministic, and as wide as
sampling theory says."""

from __future__ import annotations

import numpy as np
import pytest

from grader.evaluate import uncertainty as u
from grader.evaluate.metrics import Outcome, compute

NAMES = ["precision", "recall", "f1", "accuracy", "balanced_accuracy", "roc_auc", "average_precision"]


def outcome(k: int, n: int, *, seed: int = 1, signal: float = 1.5, ties: bool = True) -> Outcome:
    """A model of ``k`` classes on ``n`` rows: noisy logits favouring the true class; rounded, so scores tie."""
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(k)]
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += signal
    if ties:
        logits = np.round(logits, 1)
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = np.array(classes, dtype=object)
    return Outcome(names[y], names[proba.argmax(axis=1)], classes, "c1" if k == 2 else None, proba)


@pytest.mark.parametrize("k, n, ties", [(2, 891, True), (2, 300, False), (10, 2000, True), (3, 50, False)])
def test_estimators_at_weight_one_are_the_metrics(k, n, ties):
    o = outcome(k, n, ties=ties)
    expected = compute(NAMES, o)
    point = u.Resampled(u.Coded.of(o), np.ones((n, 1)))
    for name in NAMES:
        assert u.estimators.get(name)(point)[0] == pytest.approx(expected[name], abs=1e-12), name


def test_duplicated_rows_are_the_metrics_of_the_repeated_data():
    """Integer weights are the metrics of a data set with each row repeated that often."""
    o = outcome(2, 200, ties=True)
    w = np.random.default_rng(3).integers(0, 4, size=200)
    rows = np.repeat(np.arange(200), w)
    assert o.proba is not None
    repeated = Outcome(o.y_true[rows], o.y_pred[rows], o.classes, o.positive_class, o.proba[rows])
    expected = compute(NAMES, repeated)
    weighted = u.Resampled(u.Coded.of(o), w.astype(float)[:, None])
    for name in NAMES:
        assert u.estimators.get(name)(weighted)[0] == pytest.approx(expected[name], abs=1e-9), name


def test_resamples_keep_every_class_count():
    truth = np.array([0] * 30 + [1] * 7 + [2] * 13)
    w = u.weights(truth, resamples=50)
    assert w.shape == (50, 50)
    for cls, count in ((0, 30), (1, 7), (2, 13)):
        assert (w[truth == cls].sum(axis=0) == count).all()


def test_intervals_are_deterministic_and_hold_the_estimate():
    o = outcome(2, 891)
    first, again = u.intervals(o, NAMES), u.intervals(o, NAMES)
    assert first == again and set(first) == set(NAMES)
    values = compute(NAMES, o)
    for name, ci in first.items():
        assert ci.low <= values[name] <= ci.high and ci.level == 0.95 and ci.resamples == u.RESAMPLES
        assert ci.method == "stratified percentile bootstrap"


def test_recall_interval_is_as_wide_as_the_binomial_says():
    """Recall on 250 positives at 0.8: standard error sqrt(0.8 * 0.2 / 250) = 0.0253, a 95% interval ~0.099 wide."""
    truth = np.array(["pos"] * 250 + ["neg"] * 641, dtype=object)
    pred = truth.copy()
    pred[:50] = "neg"  # recall 200 / 250
    ci = u.intervals(Outcome(truth, pred, ["neg", "pos"], "pos"), ["recall"])["recall"]
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * np.sqrt(0.8 * 0.2 / 250), rel=0.15)


def test_probability_metrics_need_probabilities():
    o = outcome(2, 100)
    without = Outcome(o.y_true, o.y_pred, o.classes, o.positive_class)
    assert set(u.intervals(without, NAMES)) == set(NAMES) - {"roc_auc", "average_precision"}
    assert "no_such_metric" not in u.intervals(o, ["no_such_metric"])


def test_a_model_against_itself_does_not_differ():
    o = outcome(2, 500)
    for diff in u.paired(o, o, NAMES).values():
        assert diff.delta == 0 and diff.low == 0 and diff.high == 0 and diff.distinguishable is False


def test_paired_differences_tell_a_better_model_from_noise():
    strong, weak = outcome(2, 891, signal=2.5), outcome(2, 891, signal=1.0)
    assert np.array_equal(strong.y_true, weak.y_true)
    diffs = u.paired(strong, weak, ["accuracy", "roc_auc"])
    assert all(d.distinguishable and d.low is not None and d.low > 0 for d in diffs.values())
    # Four right answers made wrong and three wrong ones made right: one row's difference is noise.
    right = np.flatnonzero(strong.y_pred == strong.y_true)
    wrong = np.flatnonzero(strong.y_pred != strong.y_true)
    flipped = strong.y_pred.copy()
    flip = np.concatenate([right[:4], wrong[:3]])
    flipped[flip] = np.where(flipped[flip] == "c1", "c0", "c1")
    near = Outcome(strong.y_true, flipped, strong.classes, strong.positive_class)
    diff = u.paired(near, Outcome(strong.y_true, strong.y_pred, strong.classes, "c1"), ["accuracy"])["accuracy"]
    assert diff.distinguishable is False and diff.low is not None and diff.low < 0 < (diff.high or 0)


def test_paired_interval_is_narrower_than_the_intervals_apart():
    """What two sets of predictions on the same rows share cancels: the paired interval of the change is
    narrower than what the two unpaired intervals would suggest."""
    a, b = outcome(2, 891, signal=1.6), outcome(2, 891, signal=1.5)
    diff = u.paired(a, b, ["accuracy"])["accuracy"]
    ca, cb = u.intervals(a, ["accuracy"])["accuracy"], u.intervals(b, ["accuracy"])["accuracy"]
    assert diff.low is not None and diff.high is not None
    assert diff.high - diff.low < np.hypot(ca.high - ca.low, cb.high - cb.low)


def test_paired_needs_the_same_truth():
    a = outcome(2, 50)
    b = Outcome(a.y_true[::-1], a.y_pred, a.classes, a.positive_class)
    with pytest.raises(ValueError, match="same rows"):
        u.paired(a, b, ["accuracy"])


def test_brier_score_and_reliability_bins():
    from sklearn.metrics import brier_score_loss

    o = outcome(2, 891)
    assert o.proba is not None
    cal = u.calibration(o)
    assert cal is not None and cal.brier == pytest.approx(brier_score_loss(o.y_true == "c1", o.proba[:, 1]), abs=1e-4)
    assert sum(b.count for b in cal.bins) == 891 and all(b.low <= b.mean_predicted <= b.high for b in cal.bins)
    multi = outcome(10, 2000)
    assert multi.proba is not None
    onehot = np.stack([multi.y_true == c for c in multi.classes], axis=1)
    expected = np.mean(((multi.proba - onehot) ** 2).sum(axis=1))
    assert u.calibration(multi).brier == pytest.approx(expected, abs=1e-4)  # type: ignore[union-attr]
    assert u.calibration(Outcome(o.y_true, o.y_pred, o.classes, "c1")) is None


def test_calibrated_probabilities_have_a_small_calibration_error():
    """Labels drawn with the stated probabilities are calibrated; the same probabilities pushed to 0 and 1 are not."""
    rng = np.random.default_rng(5)
    p = rng.uniform(size=5000)
    truth = np.where(rng.uniform(size=5000) < p, "pos", "neg").astype(object)
    pred = np.where(p > 0.5, "pos", "neg").astype(object)
    honest = u.calibration(Outcome(truth, pred, ["neg", "pos"], "pos", np.stack([1 - p, p], axis=1)))
    sharp = np.clip((p - 0.5) * 3 + 0.5, 0, 1)
    bold = u.calibration(Outcome(truth, pred, ["neg", "pos"], "pos", np.stack([1 - sharp, sharp], axis=1)))
    assert honest is not None and bold is not None
    assert honest.expected_calibration_error < 0.03 < bold.expected_calibration_error
    assert honest.brier < bold.brier
