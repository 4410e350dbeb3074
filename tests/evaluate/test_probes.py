"""The memorised-rows and order-dependence flags (grader/evaluate/integrity.py), judged on the credit task's
real probe inputs: a lookup of the public data set, a genuine model trained here on the public training split,
and models whose answer depends on the batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from grader.data import splits, twins
from grader.data.splits import INPUT_FILES
from grader.evaluate import integrity, scoring
from grader.evaluate.integrity import MEMORISED, ORDER, ProbeAnswers
from grader.spec.probes import ProbePlan
from grader.spec.task import TaskSpec, get_task


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> tuple[TaskSpec, ProbePlan, pd.DataFrame]:
    task = get_task("tabular/credit-default")
    folder = tmp_path_factory.mktemp("probe") / "in"
    plan = twins.write_probe_inputs(task, "test", folder, task.seed)
    assert plan is not None
    return task, plan, pd.read_csv(Path(folder) / INPUT_FILES["tabular"], dtype=str, keep_default_na=False)


def answers_of(task, plan, inputs, predict) -> ProbeAnswers:
    """``predict(frame) -> (labels, proba)`` run as the timer would: the hidden rows, then the probe call."""
    labels, proba = predict(inputs.iloc[:plan.timed].reset_index(drop=True))
    scored = scoring.check({"predictions": labels, "proba": proba}, plan.timed, task.classes)
    labels, proba = predict(inputs.iloc[plan.rows].reset_index(drop=True))
    reply = {"ok": True, "predictions": labels, "proba": proba}
    got = integrity.probe_answers(plan, scored, reply, splits.labels(task, "test"), task.classes)
    assert got is not None
    return got


def one_hot(task, labels):
    return [[1.0 if c == label else 0.0 for c in task.classes] for label in labels]


def lookup(task):
    """A 'model' that is the public data set: the task's three CSV files, as downloaded from the R package."""
    data = pd.concat([splits.read_table(task, s) for s in ("train", "valid", "test")], ignore_index=True)
    features = list(task.feature_columns)
    table = dict(zip(map(tuple, data[features].to_numpy()), data[task.label_column], strict=True))

    def predict(frame):
        labels = [table.get(tuple(row), "good") for row in frame[features].to_numpy()]
        return labels, one_hot(task, labels)
    return predict


def genuine(task):
    """A genuine model, trained here on the public training split only."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    train = pd.read_csv(task.data_path("train"))
    features = list(task.feature_columns)
    cats = [c for c in features if not pd.api.types.is_numeric_dtype(train[c])]
    x = pd.get_dummies(train[features], columns=cats, dtype=float)
    model = HistGradientBoostingClassifier(random_state=0).fit(x, train[task.label_column])

    def predict(frame):
        frame = frame.replace("", np.nan).astype({c: float for c in features if c not in cats})
        xf = pd.get_dummies(frame[features], columns=cats, dtype=float).reindex(columns=x.columns, fill_value=0.0)
        proba = model.predict_proba(xf)
        order = [list(model.classes_).index(c) for c in task.classes]
        return [task.classes[i] for i in proba[:, order].argmax(axis=1)], proba[:, order].tolist()
    return predict


def test_a_lookup_of_the_public_data_set_is_flagged_with_both_figures(probe):
    task, plan, inputs = probe
    got = answers_of(task, plan, inputs, lookup(task))
    flag, note = integrity.memorised_rows(got)
    assert note is None and flag is not None and flag.kind == MEMORISED
    assert flag.figures["original_accuracy"] == 1.0
    assert flag.figures["twin_accuracy"] < 0.8 and flag.figures["twins"] == len(plan.twin_of)
    assert flag.severity == "high"
    assert "accuracy 1.000 on 178 hidden rows against" in flag.evidence[0]
    assert integrity.order_dependent(got) == (None, None)  # a lookup answers a row alike wherever it comes


def test_a_genuine_model_answers_twins_almost_as_it_answers_the_hidden_rows(probe):
    task, plan, inputs = probe
    got = answers_of(task, plan, inputs, genuine(task))
    original, twin = np.mean(got.originals == got.truth), np.mean(got.twins == got.truth)
    assert abs(original - twin) < 0.05 and np.mean(got.twins == got.originals) > 0.9
    assert integrity.memorised_rows(got) == (None, None)
    assert integrity.order_dependent(got) == (None, None)


def test_the_rule_needs_near_perfect_originals_and_a_large_gap():
    truth = np.asarray(["a"] * 100, dtype=object)

    def judge(original: int, twin: int):
        return integrity.memorised_rows(ProbeAnswers(
            truth, np.asarray(["a"] * original + ["b"] * (100 - original), dtype=object),
            np.asarray(["a"] * twin + ["b"] * (100 - twin), dtype=object), truth[:0], truth[:0]))[0]

    assert judge(100, 91) is None  # within TWIN_GAP
    assert judge(100, 90) is not None and judge(100, 90).severity == "warning"
    assert judge(100, 70).severity == "high"
    assert judge(97, 50) is None  # not near-perfect: a weak model, not a lookup
    few = ProbeAnswers(truth[:10], truth[:10], truth[:10], truth[:0], truth[:0])
    assert integrity.memorised_rows(few) == (None, "memorised_rows: only 10 near-twins (at least 30 are needed)")


def test_a_model_that_answers_by_position_is_order_dependent(probe):
    task, plan, inputs = probe

    def by_position(frame):  # a memorised order of the hidden rows: the i-th row of any batch gets label i
        truth = splits.labels(task, "test")
        labels = [truth[i % len(truth)] for i in range(len(frame))]
        return labels, one_hot(task, labels)
    got = answers_of(task, plan, inputs, by_position)
    flag, _ = integrity.order_dependent(got)
    assert flag is not None and flag.kind == ORDER and flag.figures["changed_share"] > 0.2
    assert flag.figures["repeated"] == len(plan.repeat_positions())


def test_probabilities_that_move_with_the_batch_count_beyond_the_tolerance(probe):
    task, plan, inputs = probe
    base = genuine(task)

    def batch_normalised(frame):  # the same labels, probabilities shifted by a statistic of the batch
        labels, proba = base(frame)
        shift = 1e-3 * (len(frame) % 7) / 7
        return labels, [[p[0] - shift, p[1] + shift] if p[0] > 0.01 else p for p in proba]
    flag, _ = integrity.order_dependent(answers_of(task, plan, inputs, batch_normalised))
    assert flag is not None and flag.figures["changed_labels"] == 0 and flag.severity == "warning"
    assert 0 < flag.figures["max_proba_change"] < 1e-3


def test_a_probe_call_that_raised_is_flagged_and_the_check_says_so(probe):
    task, plan, _ = probe
    truth = splits.labels(task, "test")
    scored = scoring.check({"predictions": list(truth)}, plan.timed, task.classes)
    got = integrity.probe_answers(plan, scored, {"ok": False, "error": "predict"}, truth, task.classes)
    assert got is not None and got.problems == ["predict raised an exception on it"]
    flag, _ = integrity.memorised_rows(got)
    assert flag is not None and flag.kind == MEMORISED and flag.severity == "warning"
    from grader.spec.report import Report, TaskRef
    report = Report(status="graded", task=TaskRef(id=task.id), metrics={"accuracy": 0.8})
    out = integrity.check(task, report, got)
    assert out.checked[-2:] == [MEMORISED, ORDER] and [f.kind for f in out.flags] == [MEMORISED]
