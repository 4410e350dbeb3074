"""Integrity flags on real results: a model that embeds the public data set the task comes from and answers by
looking rows up is flagged as implausible, with its figures; the task's genuine reference is not, nor is a
model a little better than the task's strong figure (within noise and margin)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from grader.data import splits
from grader.errors import SpecError
from grader.evaluate import scoring
from grader.evaluate.integrity import IMPLAUSIBLE, check, implausible_score, wilson_low
from grader.spec.report import Report, TaskRef
from grader.spec.task import get_task, with_overrides
from tests.report import fixture_json

CREDIT = "tabular/credit-default"


def lookup_predictions(task_id: str) -> tuple[Report, object]:
    """Grade, on the host, a 'model' that is the whole public data set (the task's three CSV files, as a
    candidate could download them from the R package) and answers each hidden row by looking it up."""
    task = get_task(task_id)
    data = pd.concat([splits.read_table(task, s) for s in ("train", "valid", "test")], ignore_index=True)
    features = list(task.feature_columns)
    table = dict(zip(map(tuple, data[features].to_numpy()), data[task.label_column], strict=True))
    hidden = splits.read_table(task, "test")
    labels = [table[tuple(row)] for row in hidden[features].to_numpy()]
    proba = [[1.0 if c == label else 0.0 for c in task.classes] for label in labels]
    checked = scoring.check({"predictions": labels, "proba": proba}, len(hidden), task.classes)
    y_true = splits.labels(task, "test")
    metrics, matrix = scoring.score(task, y_true, checked)
    report = Report(status="graded", task=TaskRef(id=task.id, version=task.version), metrics=metrics,
                    confusion_matrix=matrix, per_class=scoring.per_class(task, y_true, checked))
    return report, task


def test_a_lookup_of_the_public_data_set_is_flagged_with_its_figures():
    report, task = lookup_predictions(CREDIT)
    assert report.metrics["precision"] == report.metrics["recall"] == report.metrics["roc_auc"] == 1.0
    integrity = check(task, report)
    assert integrity.checked == [IMPLAUSIBLE] and integrity.needs_review
    [flag] = integrity.flags
    assert flag.kind == IMPLAUSIBLE and flag.severity == "high" and flag.needs_review
    assert flag.figures["f1"] == 1.0 and flag.figures["f1.expected"] == task.expected.ceiling("f1")
    assert flag.figures["f1.low"] > task.expected.ceiling("f1") + task.expected.margin
    assert {"precision", "recall", "roc_auc"} <= set(flag.figures)
    assert any(e.startswith("roc_auc 1.000") and "0.856 for a strong solution" in e for e in flag.evidence)
    assert "f1, accuracy, roc_auc, average_precision are far beyond" in flag.message


@pytest.mark.parametrize("with_intervals", [True, False])
def test_the_genuine_reference_raises_no_flag(with_intervals):
    raw = fixture_json("reference")  # a real grading of examples/reference
    if not with_intervals:
        raw.pop("metrics_ci", None)
    report = Report.model_validate(raw)
    integrity = check(get_task(CREDIT), report)
    assert integrity.checked == [IMPLAUSIBLE] and integrity.flags == [] and not integrity.needs_review


def test_a_little_better_than_strong_is_not_flagged_far_better_is():
    task = get_task(CREDIT)
    report = Report.model_validate({**fixture_json("reference"), "metrics_ci": {}})
    report.metrics["f1"] = 0.70  # above the strong 0.672, inside margin and noise
    assert implausible_score(task, report)[0] is None
    report.metrics["f1"] = 0.95
    flag = implausible_score(task, report)[0]
    assert flag is not None and flag.severity == "warning" and list(flag.figures)[:3] == ["f1", "f1.low",
                                                                                          "f1.expected"]


def test_precision_or_recall_alone_is_not_judged():
    """Flagging every loan gives recall 1: a bad model, not a suspicious one."""
    task = get_task(CREDIT)
    report = Report.model_validate({**fixture_json("reference"), "metrics_ci": {}})
    report.metrics["recall"] = 1.0
    assert implausible_score(task, report)[0] is None


def test_a_task_without_expectations_says_so_and_a_self_check_is_not_judged():
    task = with_overrides(get_task(CREDIT), {"expected": None})
    report, _ = lookup_predictions(CREDIT)
    integrity = check(task, report)
    assert integrity.flags == [] and "states no expected figures" in integrity.notes[0]
    assert check(get_task(CREDIT), report.model_copy(update={"evaluated_on": "valid"})).checked == []


def test_expectations_must_name_the_tasks_metrics():
    with pytest.raises(SpecError, match="expected names metric 'balanced_accuracy'"):
        with_overrides(get_task(CREDIT), {"expected": {"reference": {"balanced_accuracy": 0.7}}})


def test_wilson_bound():
    assert wilson_low(1.0, 891) == pytest.approx(0.99570, abs=1e-4)
    assert wilson_low(0.5, 100) == pytest.approx(0.40383, abs=1e-4)
    assert wilson_low(0.0, 10) == 0.0 and wilson_low(0.7, 0) == 0.0
    assert np.isclose(wilson_low(0.62, 10**7), 0.62, atol=1e-3)
