"""Integrity flags: results a person should look at before trusting them, with the evidence.

A flag never changes a score or a verdict. The bundled tasks come from public data sets, so a
submission can embed a copy of the data and answer by looking rows up; nothing in its figures is
wrong, they are only too good. ``implausible_score`` compares each figure with what the task says its
reference and a strong solution reach (``expected`` in task.yaml), and flags it only when even the low
end of its 95% interval lies beyond that by the task's margin: sampling noise alone cannot explain it.

``memorised_rows`` and ``order_dependent`` judge the untimed probe call (``grader/data/twins.py``): near-twins
of hidden rows, and hidden rows sent a second time in another batch and position, never counted in a figure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from grader.evaluate import scoring
from grader.evaluate.metrics import metrics as registry
from grader.spec.probes import ProbePlan
from grader.spec.report import Integrity, IntegrityFlag, Report
from grader.spec.task import TaskSpec

IMPLAUSIBLE: Final = "implausible_score"
#: A figure this close to perfect is flagged ``high``: a genuine model of a noisy public data set does not get there.
PERFECT = 0.999
Z95 = 1.959964
#: Judged only beside the others: either alone is bought with the other (flag every item: recall 1).
TRADE_OFF = ("precision", "recall")


@dataclass(frozen=True)
class Bound:
    """The low end of a figure's 95% interval, and how it was obtained."""

    low: float
    how: str


def wilson_low(p: float, n: int, z: float = Z95) -> float:
    """Lower end of the Wilson score interval of a proportion ``p`` observed on ``n`` items: unlike ``p - z*se``
    it stays below 1 for ``p == 1``, which is exactly the case a lookup produces."""
    if n <= 0:
        return 0.0
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, (centre - spread) / (1 + z * z / n))


def _sample_size(metric: str, report: Report, task: TaskSpec) -> int | None:
    """The items a figure is a proportion of, for the binomial fallback: the positives for recall, the flagged
    items for precision (binary tasks), else every scored item."""
    supports = {c: int(v.get("support", 0)) for c, v in report.per_class.items()}
    if not supports:
        return None
    pos = task.positive_class
    if pos is not None and metric == "recall":
        return supports.get(pos)
    matrix = (report.confusion_matrix or {}).get("matrix")
    if pos is not None and metric == "precision" and matrix and pos in task.classes:
        col = task.classes.index(pos)
        return int(sum(row[col] for row in matrix))
    return sum(supports.values())


def lower_bound(metric: str, value: float, report: Report, task: TaskSpec) -> Bound | None:
    """The interval's low end from ``metrics_ci`` when the report has it, else a Wilson bound on the items
    the figure counts (an approximation for f1 and ranking metrics, which have no single denominator)."""
    ci = report.metrics_ci.get(metric)
    if ci is not None:
        return Bound(float(ci.low), f"{ci.level:.0%} {ci.method} interval")
    n = _sample_size(metric, report, task)
    if not n:
        return None
    return Bound(wilson_low(value, n), f"95% Wilson bound on {n} items")


def implausible_score(task: TaskSpec, report: Report) -> tuple[IntegrityFlag | None, list[str]]:
    """A flag when a figure is beyond what the task's own solutions reach, by more than noise; and notes on
    the figures that could not be judged."""
    expected = task.expected
    if expected is None:
        return None, [f"{task.id} states no expected figures (task.yaml `expected`): scores were not compared "
                      "with what its reference reaches"]
    evidence: list[str] = []
    figures: dict[str, float] = {}
    notes: list[str] = []
    perfect = False
    for name, value in report.metrics.items():
        ceiling = expected.ceiling(name)
        if value is None or ceiling is None or name in TRADE_OFF:
            continue
        if name in registry and not registry.get(name).higher_is_better:
            notes.append(f"{name}: lower is better, not compared with the expected figures")
            continue
        bound = lower_bound(name, value, report, task)
        if bound is None:
            notes.append(f"{name}: no interval or sample size to judge it by")
            continue
        if bound.low >= ceiling + expected.margin:
            perfect = perfect or value >= PERFECT
            ref = expected.reference.get(name)
            evidence.append(f"{name} {value:.3f} (low end of its {bound.how}: {bound.low:.3f}) against "
                            f"{ceiling:.3f} for a strong solution" + (f", {ref:.3f} for the reference" if ref else ""))
            figures |= {name: value, f"{name}.low": round(bound.low, 4), f"{name}.expected": ceiling}
    if not evidence:
        return None, notes
    judged = [k for k in figures if "." not in k]
    names = ", ".join(judged) + (" is" if len(judged) == 1 else " are")
    for name in TRADE_OFF:
        value, ceiling = report.metrics.get(name), expected.ceiling(name)
        if value is not None and ceiling is not None:
            evidence.append(f"{name} {value:.3f} against {ceiling:.3f} for a strong solution")
            figures |= {name: value, f"{name}.expected": ceiling}
    return IntegrityFlag(
        kind=IMPLAUSIBLE, severity="high" if perfect else "warning", figures=figures, evidence=evidence,
        message=(f"{names} far beyond what this task's own solutions reach, by more than sampling noise: a model "
                 "that saw the hidden answers (an embedded copy of the public data set, a lookup by row) scores "
                 "like this. Read the code before trusting the score."),
    ), notes


MEMORISED: Final = "memorised_rows"
ORDER: Final = "order_dependent"
#: Originals at least this accurate are "near-perfect": a genuine model of a noisy public data set is not, so
#: a genuine model is never judged by the twin rule at all; a lookup of the data set is exact.
NEAR_PERFECT: Final = 0.98
#: Twins this much less accurate than their (near-perfect) originals are flagged. The twins move each row by a
#: small fraction of its features' spread, so a genuine model answers them almost as it answers the originals
#: (its twin accuracy is within a few points of its original accuracy); a lookup falls back to a guess.
TWIN_GAP: Final = 0.10
#: A gap this large is ``high``: nearly every twin answered differently from its exactly-answered original.
HIGH_GAP: Final = 0.20
#: Fewer twins than this judge nothing: a proportion on them is too noisy.
MIN_TWINS: Final = 30
#: The same row answered differently in another batch and position, on more than this share of the repeated
#: rows, is flagged: a model's answer for a row must not depend on its neighbours (floating-point noise aside).
ORDER_SHARE: Final = 0.01
#: Probabilities of the same row that differ by more than this count as a different answer: far above the
#: rounding a batch of another shape causes in BLAS, far below any change a decision hangs on.
PROBA_TOLERANCE: Final = 1e-6
MIN_REPEATS: Final = 20


@dataclass(frozen=True)
class ProbeAnswers:
    """The model's answers in the probe call beside its scored answers for the same hidden rows.

    ``truth``/``originals``/``twins``: per twin, the hidden row's label, the scored answer on it, the answer
    on the twin. ``first``/``again`` (and their probabilities): per repeated row, the scored answer and the
    probe call's. ``problems``: why the probe call cannot be judged (it raised, it returned the wrong count).
    """

    truth: np.ndarray
    originals: np.ndarray
    twins: np.ndarray
    first: np.ndarray
    again: np.ndarray
    first_proba: np.ndarray | None = None
    again_proba: np.ndarray | None = None
    problems: list[str] = field(default_factory=list)


def probe_answers(plan: ProbePlan, scored: scoring.Checked, reply: dict[str, Any] | None, y_true: np.ndarray,
                  classes: list[str]) -> ProbeAnswers | None:
    """The probe call's answers split by the host-only plan; None when the scored batch had no valid labels."""
    if scored.labels is None:
        return None
    twin_at, again_at = plan.twin_positions(), plan.repeat_positions()
    sources = [plan.twin_of[plan.rows[p] - plan.timed] for p in twin_at]
    repeated = [plan.rows[p] for p in again_at]
    truth = np.asarray(y_true, dtype=object)[sources]
    empty = np.asarray([], dtype=object)
    originals, first = scored.labels[sources], scored.labels[repeated]
    if reply is None or not reply.get("ok"):
        why = "it never answered" if reply is None else "predict raised an exception on it"
        return ProbeAnswers(truth, originals, empty, first, empty, problems=[why])
    checked = scoring.check(reply, len(plan.rows), classes)
    if checked.labels is None:
        return ProbeAnswers(truth, originals, empty, first, empty, problems=checked.problems)
    both = checked.proba is not None and scored.proba is not None
    return ProbeAnswers(truth, originals, twins=checked.labels[twin_at], first=first, again=checked.labels[again_at],
                        first_proba=scored.proba[repeated] if both and scored.proba is not None else None,
                        again_proba=checked.proba[again_at] if both and checked.proba is not None else None)


def memorised_rows(answers: ProbeAnswers) -> tuple[IntegrityFlag | None, str | None]:
    """A flag when the originals are near-perfect and their twins much worse (or the model failed on the twins
    outright); else a note when there is too little to judge."""
    if answers.problems:
        return IntegrityFlag(
            kind=MEMORISED, severity="warning", evidence=[f"the probe call: {p}" for p in answers.problems],
            message=("the model answered the hidden rows but failed on a batch of rows from the same distribution "
                     "that it had not seen (near-twins of hidden rows and hidden rows again): a lookup by row fails "
                     "like this. Read the code before trusting the score.")), None
    n = len(answers.twins)
    if n < MIN_TWINS:
        return None, f"{MEMORISED}: only {n} near-twins (at least {MIN_TWINS} are needed)"
    original = float(np.mean(answers.originals == answers.truth))
    twin = float(np.mean(answers.twins == answers.truth))
    agreement = float(np.mean(answers.twins == answers.originals))
    gap = round(original - twin, 9)  # 1.0 - 0.9 is a hair under 0.1
    if original < NEAR_PERFECT or gap < TWIN_GAP:
        return None, None
    figures = {"original_accuracy": round(original, 4), "twin_accuracy": round(twin, 4),
               "twin_agreement": round(agreement, 4), "twins": float(n)}
    return IntegrityFlag(
        kind=MEMORISED, severity="high" if gap >= HIGH_GAP else "warning", figures=figures,
        evidence=[f"accuracy {original:.3f} on {n} hidden rows against {twin:.3f} on their near-twins "
                  f"(rows moved well inside their features' noise)",
                  f"the answer changed on {1 - agreement:.1%} of the twins"],
        message=("the model is near-perfect on hidden rows and much worse on near-copies of the same rows that a "
                 "genuine model answers almost alike: it answers by recognising the rows (an embedded copy of the "
                 "public data set), not by generalising. Read the code before trusting the score.")), None


def order_dependent(answers: ProbeAnswers) -> tuple[IntegrityFlag | None, str | None]:
    """A flag when more than a tiny share of the rows sent twice got another answer the second time."""
    n = len(answers.again)
    if answers.problems:
        return None, None  # judged by memorised_rows: the probe call has no answers to compare
    if n < MIN_REPEATS:
        return None, f"{ORDER}: only {n} repeated rows (at least {MIN_REPEATS} are needed)"
    changed = answers.first != answers.again
    worst = 0.0
    if answers.first_proba is not None and answers.again_proba is not None:
        diff = np.abs(answers.first_proba - answers.again_proba).max(axis=1)
        worst = float(diff.max(initial=0.0))
        changed = changed | (diff > PROBA_TOLERANCE)
    share = float(np.mean(changed))
    if share <= ORDER_SHARE:
        return None, None
    labels = int(np.sum(answers.first != answers.again))
    figures = {"repeated": float(n), "changed": float(np.sum(changed)), "changed_share": round(share, 4),
               "changed_labels": float(labels), "max_proba_change": round(worst, 6)}
    return IntegrityFlag(
        kind=ORDER, severity="high" if labels / n > 0.1 else "warning", figures=figures,
        evidence=[f"{int(np.sum(changed))} of {n} hidden rows sent a second time, in another batch and position, "
                  f"got another answer ({labels} another label; probabilities moved by up to {worst:.3g})"],
        message=("the model's answer for a row depends on where it comes in the batch or on the other rows of the "
                 "batch (or the model is not deterministic): predictions must be a function of the row alone. "
                 "A model that answers by position (a memorised order of the hidden rows) does this.")), None


def check(task: TaskSpec, report: Report, probes: ProbeAnswers | None = None) -> Integrity:
    """Every integrity check that applies to a graded report; ``probes``: the probe call's answers, if any."""
    out = Integrity()
    if report.evaluated_on != "test" or not report.metrics:
        return out
    flag, notes = implausible_score(task, report)
    out.checked.append(IMPLAUSIBLE)
    out.notes += notes
    if flag is not None:
        out.flags.append(flag)
    if probes is not None:
        for kind, judge in ((MEMORISED, memorised_rows), (ORDER, order_dependent)):
            found, note = judge(probes)
            out.checked.append(kind)
            out.notes += [note] if note else []
            out.flags += [found] if found else []
    return out
