"""End to end in the Docker sandbox: a real grading carries its metrics' intervals, and with a baseline the
change of every figure, the Markdown report leading with it; a baseline of another task is a usage error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.grading.pipeline import Grader
from grader.spec.task import get_task
from tests.cohort import NUMERIC, fit, graded
from tests.helpers import QUICK_LATENCY, make_submission, tasks_copy

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


@pytest.fixture(scope="module")
def main_branch(tmp_path_factory) -> Path:
    """The main branch's grading: a real model of the credit task, its predictions beside its report."""
    task = get_task("tabular/credit-default")
    labels, proba = fit(task, NUMERIC)
    return graded(tmp_path_factory.mktemp("main") / "out", task, "main", labels, proba)


def test_a_grading_against_its_baseline(docker_box, main_branch, tmp_path):
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1},
                       train_timeout_s=60, predict_timeout_s=90)
    out = tmp_path / "out"
    report = Grader(docker_box, tasks_root=tasks, baseline=main_branch).grade(make_submission(tmp_path / "s"),
                                                                            out_dir=out)
    assert report.status == "graded", report.failures
    labelled = {name for name, value in report.metrics.items() if value is not None}
    assert labelled and set(report.metrics_ci) == labelled
    for name, ci in report.metrics_ci.items():
        assert ci.low <= report.metrics[name] <= ci.high  # type: ignore[operator]
    change = report.baseline
    assert change is not None and change.source == str(main_branch)
    recall = change.metrics["recall"]  # the majority class never predicts "bad": far below the main branch
    assert recall.value == 0.0 and recall.delta is not None and recall.delta < 0 and recall.distinguishable
    assert change.score.value == report.score and "latency.p95_ms" in change.figures
    saved = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert saved["baseline"]["metrics"]["recall"]["distinguishable"] is True and saved["metrics_ci"]
    headings = [line for line in (out / "report.md").read_text(encoding="utf-8").splitlines()
                if line.startswith("### ")]
    assert headings[0] == "### Change from the baseline"
    assert "Change from the baseline" in (out / "report.html").read_text(encoding="utf-8")


def test_a_baseline_of_another_task_is_a_usage_error(docker_box, main_branch, tmp_path):
    nlp = get_task("nlp/food-reviews")
    labels, _ = fit_majority(nlp)
    other = graded(tmp_path / "nlp", nlp, "nlp", labels, None)
    out = tmp_path / "out"
    with pytest.raises(UsageError, match="is a grading of nlp/food-reviews, not of tabular/credit-default"):
        Grader(docker_box, baseline=other).grade(make_submission(tmp_path / "s"), out_dir=out)
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["status"] == "error"
    assert not (out / "predictions.csv").exists()  # stopped before anything ran


def fit_majority(task):
    """Every row labelled with the task's first class (no model: the point is the task, not the figures)."""
    import numpy as np

    from grader.data import splits

    return np.array([task.classes[0]] * len(splits.labels(task, "test")), dtype=object), None
