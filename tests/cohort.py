"""Real predictions of the credit task for tests of paired comparisons: models trained here on its public
split, scored on its hidden labels, and kept in report folders the way ``grader grade --out`` leaves them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from grader.data import splits
from grader.evaluate import scoring, uncertainty
from grader.report.write import write_predictions
from grader.spec.report import Report, TaskRef
from grader.spec.task import TaskSpec
from tests.report import fixture_json

NUMERIC = ["Seniority", "Time", "Age", "Expenses", "Income", "Assets", "Debt", "Amount", "Price"]


def fit(task: TaskSpec, features: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and probabilities on the hidden split from a logistic regression on ``features`` of train."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def frame(split: splits.Split) -> tuple[np.ndarray, np.ndarray]:
        table = splits.read_table(task, split)
        x = table[features].replace("", np.nan).astype(float).to_numpy()
        return x, table[task.label_column].to_numpy()

    x, y = frame("train")
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(x, y)
    test, _ = frame("test")
    proba = model.predict_proba(test)[:, [list(model.classes_).index(c) for c in task.classes]]
    return np.array([task.classes[i] for i in proba.argmax(axis=1)], dtype=object), proba


def graded(folder: Path, task: TaskSpec, name: str, labels: np.ndarray, proba: np.ndarray | None) -> Path:
    """A report folder for these predictions: the reference report with their real figures."""
    truth = splits.labels(task, "test")
    checked = scoring.Checked(labels=labels, proba=proba)
    data = fixture_json("reference")
    report = Report.model_validate(data)
    report.metrics, _ = scoring.score(task, truth, checked)
    report.metrics_ci = uncertainty.intervals(scoring.outcome_of(task, truth, checked), task.metrics)
    report.submission.candidate = name
    report.task = TaskRef(id=task.id, version=task.version)
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(report.model_dump_json(), encoding="utf-8")
    write_predictions(folder, labels, proba, task.classes)
    return folder
