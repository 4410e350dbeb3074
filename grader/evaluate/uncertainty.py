"""How far a figure could move by sampling noise alone: bootstrap intervals of the metrics, paired
intervals of a difference between two sets of predictions on the same rows, and calibration.

The hidden test split is a sample: with ~250 positives, recall has a standard error near 0.03, so a
gate at 0.5 met with 0.5012 is a coin flip. Every interval here is a **stratified percentile
bootstrap**: rows are resampled within each true class (each resample keeps the split's class
counts, so recall's denominator does not wobble), with a fixed seed, so the same predictions always
give the same interval. Resamples are not drawn as row lists but as a matrix of counts (resamples x
rows), and every metric is computed from it at once (confusion counts by grouped sums; ROC AUC and
average precision from per-score sums), so thousands of resamples cost milliseconds, not a
scikit-learn call each. The estimators reproduce :mod:`grader.evaluate.metrics` exactly at weight 1
(``tests/evaluate/test_uncertainty.py`` checks it); a metric without an estimator gets no interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from grader.evaluate.metrics import Outcome
from grader.registry import Registry
from grader.spec.report import Calibration, MetricInterval, PairedDifference, ReliabilityBin

LEVEL = 0.95
RESAMPLES = 1000
#: Fixed, so that an interval is a function of the predictions alone.
SEED = 20240917
METHOD = "stratified percentile bootstrap"


@dataclass(frozen=True)
class Coded:
    """An outcome as integer codes: ``truth`` and ``pred`` index ``classes``; ``positive`` too (None: multiclass)."""

    truth: np.ndarray
    pred: np.ndarray
    k: int
    positive: int | None
    proba: np.ndarray | None

    @classmethod
    def of(cls, o: Outcome) -> Coded:
        index = {c: i for i, c in enumerate(o.classes)}
        truth = np.fromiter((index[str(v)] for v in o.y_true), dtype=np.int64, count=len(o.y_true))
        pred = np.fromiter((index[str(v)] for v in o.y_pred), dtype=np.int64, count=len(o.y_pred))
        positive = None if o.positive_class is None else index[o.positive_class]
        proba = None if o.proba is None else np.asarray(o.proba, dtype=float)
        return cls(truth, pred, len(o.classes), positive, proba)


def weights(truth: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """Stratified bootstrap counts (rows x resamples): ``w[i, b]`` is how often row ``i`` is drawn in
    resample ``b``; within each true class as many draws as the class has rows. Rows are the first axis,
    so that taking rows in another order (by score) moves whole runs of memory. float32 holds these
    counts, and the sums the metrics take of them, exactly, in half the memory of float64."""
    rng = np.random.default_rng(seed)
    counts = np.zeros((len(truth), resamples), dtype=np.float32)
    offsets = np.arange(resamples)[None, :]
    for cls in np.unique(truth):
        rows = np.flatnonzero(truth == cls)
        n = len(rows)
        draws = rng.integers(0, n, size=(n, resamples))
        counts[rows] = np.bincount((draws * resamples + offsets).ravel(), minlength=n * resamples).reshape(n, resamples)
    return counts


class Resampled:
    """A coded outcome under bootstrap counts ``w`` (rows x resamples), with the sums every metric shares
    (the confusion counts, each class's rows in score order) computed once."""

    def __init__(self, coded: Coded, w: np.ndarray) -> None:
        self.coded, self.w = coded, w
        self._confusion: np.ndarray | None = None
        self._ranked: dict[int, _Ranked] = {}

    def per_class(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """True positives, predicted and actual counts (classes x resamples)."""
        if self._confusion is None:
            c = self.coded
            self._confusion = _group_sums(self.w, c.truth * c.k + c.pred, c.k * c.k).reshape(c.k, c.k, -1)
        cm = self._confusion  # true x predicted x resamples
        return np.diagonal(cm, axis1=0, axis2=1).T, cm.sum(axis=0), cm.sum(axis=1)

    def scored(self, per_class: np.ndarray) -> np.ndarray:
        """Binary: the positive class's column; multiclass: the macro mean over every class."""
        positive = self.coded.positive
        return per_class[positive] if positive is not None else per_class.mean(axis=0)

    def ranked(self, k: int) -> _Ranked:
        if k not in self._ranked:
            assert self.coded.proba is not None
            self._ranked[k] = _Ranked(self.coded.proba[:, k], self.coded.truth == k, self.w)
        return self._ranked[k]

    def one_vs_rest(self, area: Callable[[_Ranked], np.ndarray]) -> np.ndarray:
        c = self.coded
        return np.mean([area(self.ranked(k)) for k in ([c.positive] if c.positive is not None else range(c.k))],
                       axis=0)


class _Ranked:
    """One class against the rest by its probability column: the positive rows' counts in score order,
    and, at each positive's score, the counts of the negatives below it and tied with it."""

    def __init__(self, scores: np.ndarray, actual: np.ndarray, w: np.ndarray) -> None:
        pos, neg = np.flatnonzero(actual), np.flatnonzero(~actual)
        pos, neg = pos[np.argsort(scores[pos], kind="stable")], neg[np.argsort(scores[neg], kind="stable")]
        self.pos_scores, neg_scores = scores[pos], scores[neg]
        self.pos_w = w[pos]
        lo = np.searchsorted(neg_scores, self.pos_scores, side="left")
        hi = np.searchsorted(neg_scores, self.pos_scores, side="right")
        at = _sums_before(w[neg], np.concatenate([lo, hi, [len(neg)]]))
        #: Negatives' counts with a lower score than each positive, and those with the same score.
        self.neg_below, self.neg_tied = at[:len(lo)], at[len(lo):2 * len(lo)] - at[:len(lo)]
        self.neg_total = at[-1]

    def auc(self) -> np.ndarray:
        """Mann-Whitney: the weight of (positive, negative) pairs ranked right, ties counting half."""
        total = self.pos_w.sum(axis=0) * self.neg_total
        right = (self.pos_w * (self.neg_below + self.neg_tied / 2)).sum(axis=0)
        return np.divide(right, total, out=np.full(len(total), np.nan), where=total > 0)

    def average_precision(self) -> np.ndarray:
        """Each positive's weight times the precision at its score as threshold (ties included), over the
        positives' weight: scikit-learn's step-wise ``average_precision_score``."""
        first = np.searchsorted(self.pos_scores, self.pos_scores, side="left")
        at = _sums_before(self.pos_w, np.concatenate([first, [len(first)]]))
        tp = at[-1] - at[:-1]
        fp = self.neg_total - self.neg_below
        area = (self.pos_w * _ratio(tp, tp + fp)).sum(axis=0)
        return np.divide(area, at[-1], out=np.full(len(area), np.nan), where=at[-1] > 0)


def _sums_before(w: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``out[j] = w[:positions[j]].sum(axis=0)``: sums of segments between the distinct positions, then a
    running total over the segments (far fewer rows than a running total over ``w``)."""
    distinct, where = np.unique(positions, return_inverse=True)
    starts = distinct[distinct < len(w)]
    if not len(starts) or starts[0] != 0:
        starts = np.concatenate([[0], starts])
    running = np.zeros((len(starts) + 1, w.shape[1]), dtype=w.dtype)  # float32 counts: sums exact to 2**24
    if len(starts) == len(w):  # a segment per row: the running total of the rows themselves
        np.cumsum(w, axis=0, out=running[1:])
    elif len(w):
        np.cumsum(np.add.reduceat(w, starts, axis=0), axis=0, out=running[1:])
    # The running total before each start, and after the last row for a position at the end.
    index = np.searchsorted(starts, distinct)
    index[distinct >= len(w)] = len(starts)
    return running[index][where]


def _group_sums(w: np.ndarray, keys: np.ndarray, size: int) -> np.ndarray:
    """``out[g]``: the sum of ``w``'s rows whose key is ``g`` (0 <= g < size)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    out = np.zeros((size, w.shape[1]), dtype=w.dtype)
    out[sorted_keys[starts]] = np.add.reduceat(w[order], starts, axis=0)
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, 0 where ``den`` is 0 (scikit-learn's ``zero_division=0``)."""
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape, dtype=float), where=den > 0)


#: A metric over resamples: one value per resample.
Estimator = Callable[[Resampled], np.ndarray]
estimators: Registry[Estimator] = Registry("resampled metric")


def estimator(name: str) -> Callable[[Estimator], Estimator]:
    return estimators.register(name)


@estimator("precision")
def _precision(r: Resampled) -> np.ndarray:
    tp, predicted, _ = r.per_class()
    return r.scored(_ratio(tp, predicted))


@estimator("recall")
def _recall(r: Resampled) -> np.ndarray:
    tp, _, actual = r.per_class()
    return r.scored(_ratio(tp, actual))


@estimator("f1")
def _f1(r: Resampled) -> np.ndarray:
    tp, predicted, actual = r.per_class()
    return r.scored(_ratio(2 * tp, predicted + actual))


@estimator("accuracy")
def _accuracy(r: Resampled) -> np.ndarray:
    tp, _, actual = r.per_class()
    return _ratio(tp.sum(axis=0), actual.sum(axis=0))


@estimator("balanced_accuracy")
def _balanced_accuracy(r: Resampled) -> np.ndarray:
    tp, _, actual = r.per_class()
    present = actual > 0  # scikit-learn averages over the classes the truth has
    return (_ratio(tp, actual) * present).sum(axis=0) / np.maximum(present.sum(axis=0), 1)


@estimator("roc_auc")
def _roc_auc(r: Resampled) -> np.ndarray:
    return r.one_vs_rest(_Ranked.auc)


@estimator("average_precision")
def _average_precision(r: Resampled) -> np.ndarray:
    return r.one_vs_rest(_Ranked.average_precision)


def _resampled(name: str, r: Resampled) -> np.ndarray | None:
    from grader.evaluate.metrics import metrics

    if name not in estimators or name not in metrics:
        return None
    if metrics.get(name).needs_proba and r.coded.proba is None:
        return None
    return estimators.get(name)(r)


def _down(x: float) -> float:
    """To 4 decimals, outwards (with :func:`_up`): a rounded interval still holds what the exact one did."""
    return math.floor(round(x * 10_000, 6)) / 10_000


def _up(x: float) -> float:
    return math.ceil(round(x * 10_000, 6)) / 10_000


def _bounds(values: np.ndarray, level: float) -> tuple[float, float] | None:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return None
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def intervals(outcome: Outcome, names: list[str], *, resamples: int = RESAMPLES, level: float = LEVEL,
              seed: int = SEED) -> dict[str, MetricInterval]:
    """A ``level`` interval of each metric of ``names`` that has an estimator (and its inputs), by name."""
    coded = Coded.of(outcome)
    r = Resampled(coded, weights(coded.truth, resamples, seed))
    found = {}
    for name in names:
        values = _resampled(name, r)
        bounds = None if values is None else _bounds(values, level)
        if bounds is not None:
            found[name] = MetricInterval(low=_down(bounds[0]), high=_up(bounds[1]), level=level, method=METHOD,
                                         resamples=resamples)
    return found


def samples(outcome: Outcome, names: list[str], w: np.ndarray) -> dict[str, tuple[float, np.ndarray]]:
    """Each metric of ``names`` that has an estimator: its value, and its values under the counts ``w``
    (:func:`weights`). Two outcomes on the same rows resampled with the same ``w`` give paired samples."""
    coded = Coded.of(outcome)
    point, many = Resampled(coded, np.ones((len(coded.truth), 1))), Resampled(coded, w)
    found = {}
    for name in names:
        value, values = _resampled(name, point), _resampled(name, many)
        if value is not None and values is not None and np.isfinite(value[0]):
            found[name] = (float(value[0]), values)
    return found


def difference(this: tuple[float, np.ndarray], other: tuple[float, np.ndarray],
               level: float = LEVEL) -> PairedDifference:
    """``this - other`` of one metric, from paired :func:`samples`, with its percentile interval."""
    bounds = _bounds(this[1] - other[1], level)
    low, high = (None, None) if bounds is None else (_down(bounds[0]), _up(bounds[1]))
    return PairedDifference(value=round(this[0], 4), other=round(other[0], 4), delta=round(this[0] - other[0], 4),
                            low=low, high=high, level=level, resamples=len(this[1]),
                            distinguishable=None if low is None or high is None else not low <= 0 <= high)


def paired(this: Outcome, other: Outcome, names: list[str], *, resamples: int = RESAMPLES, level: float = LEVEL,
           seed: int = SEED) -> dict[str, PairedDifference]:
    """The change of each metric from ``other`` to ``this`` (predictions of the same rows, same truth), with
    its paired interval: every resample scores both on the same rows, so what they share cancels. A metric
    only one side has (probabilities on one side only) gets its values and no change."""
    a, b = Coded.of(this), Coded.of(other)
    if not np.array_equal(a.truth, b.truth):
        raise ValueError("paired differences need the same rows with the same truth")
    w = weights(a.truth, resamples, seed)
    mine, theirs = samples(this, names, w), samples(other, names, w)
    found = {}
    for name in names:
        if name in mine and name in theirs:
            found[name] = difference(mine[name], theirs[name], level)
        elif name in mine or name in theirs:
            found[name] = PairedDifference(value=round(mine[name][0], 4) if name in mine else None,
                                           other=round(theirs[name][0], 4) if name in theirs else None,
                                           delta=None, level=level)
    return found


#: Equal-width probability bins of the reliability diagram.
BINS = 10


def calibration(outcome: Outcome) -> Calibration | None:
    """Brier score and reliability bins of ``predict_proba``; None without probabilities."""
    if outcome.proba is None:
        return None
    c = Coded.of(outcome)
    assert c.proba is not None
    onehot = np.eye(c.k)[c.truth]
    if c.positive is not None:
        scores, hits = c.proba[:, c.positive], c.truth == c.positive
        brier = float(np.mean((scores - hits) ** 2))
        scored = f"P({outcome.classes[c.positive]}) against the share that is {outcome.classes[c.positive]}"
    else:
        scores, hits = c.proba.max(axis=1), c.proba.argmax(axis=1) == c.truth
        brier = float(np.mean(((c.proba - onehot) ** 2).sum(axis=1)))
        scored = "each row's highest probability against the share of those rows that are right"
    which = np.minimum((scores * BINS).astype(int), BINS - 1)
    bins, gap = [], 0.0
    for b in range(BINS):
        members = which == b
        count = int(members.sum())
        if not count:
            continue
        predicted, observed = float(scores[members].mean()), float(hits[members].mean())
        gap += count * abs(observed - predicted)
        bins.append(ReliabilityBin(low=b / BINS, high=(b + 1) / BINS, count=count,
                                   mean_predicted=round(predicted, 4), observed=round(observed, 4)))
    return Calibration(brier=round(brier, 4), scored=scored, bins=bins,
                       expected_calibration_error=round(gap / len(scores), 4))
