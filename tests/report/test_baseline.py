"""``grader grade --baseline``: a previous grading's folder read and checked, the change of every figure with
the metrics' paired intervals, and the Markdown report leading with it. Real predictions of the credit task
(``tests/cohort.py``); the end-to-end grading with ``--baseline`` is in ``tests/grading/test_baseline_docker.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from grader.data import splits
from grader.errors import UsageError
from grader.evaluate import scoring
from grader.report import baseline, markdown
from grader.report.write import PREDICTIONS_FILE, read_report
from grader.spec.task import TaskSpec, get_task
from tests.cohort import NUMERIC, fit, graded


@pytest.fixture(scope="module")
def task() -> TaskSpec:
    return get_task("tabular/credit-default")


@pytest.fixture(scope="module")
def folders(tmp_path_factory, task) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("baseline")
    strong, strong_proba = fit(task, NUMERIC)
    weak, weak_proba = fit(task, ["Age", "Time"])
    return {"main": graded(root / "main", task, "main", weak, weak_proba),
            "branch": graded(root / "branch", task, "branch", strong, strong_proba)}


def test_the_change_of_every_figure_with_paired_intervals(folders, task):
    base = baseline.load(folders["main"], task)
    report = read_report(folders["branch"])
    labels, proba = base.labels, base.proba
    assert labels is not None and proba is not None
    strong = read_report(folders["branch"])
    truth = splits.labels(task, "test")
    from grader.report.write import read_predictions

    pred, pred_proba = read_predictions(folders["branch"], task.classes, len(truth))
    outcome = scoring.outcome_of(task, truth, scoring.Checked(labels=pred, proba=pred_proba))
    report.baseline = baseline.versus(base, outcome, task.metrics)
    report.score = 80.0
    baseline.finish(report, base)
    change = report.baseline
    assert change is not None and change.source == str(folders["main"]) and change.candidate == "main"
    assert change.score.delta == pytest.approx(80.0 - base.report.score)
    auc = change.metrics["roc_auc"]
    assert auc.value == pytest.approx(strong.metrics["roc_auc"], abs=1e-4)
    assert auc.other == pytest.approx(base.report.metrics["roc_auc"], abs=1e-4)
    assert auc.distinguishable and auc.low is not None and auc.low > 0 and auc.resamples > 0
    assert set(change.metrics) == set(task.metrics)
    assert "latency.p95_ms" in change.figures and change.figures["latency.p95_ms"].delta == 0

    text = markdown.render(report)
    sections = [line for line in text.splitlines() if line.startswith("### ")]
    assert sections[0] == "### Change from the baseline", sections
    assert "| `roc_auc` |" in text and "**real change**" in text


@pytest.mark.parametrize("break_it, message", [
    (lambda folder: (folder / PREDICTIONS_FILE).unlink(), "predictions.csv not found"),
    (lambda folder: (folder / PREDICTIONS_FILE).write_text("row,prediction\n0,good\n"), "does not hold 891"),
    (lambda folder: shutil.rmtree(folder), "report.json not found"),
])
def test_a_baseline_that_cannot_be_compared_is_a_usage_error(folders, task, tmp_path, break_it, message):
    folder = tmp_path / "copy"
    shutil.copytree(folders["main"], folder)
    break_it(folder)
    with pytest.raises(UsageError, match=message) as caught:
        baseline.load(folder, task)
    assert caught.value.exit_code == 2 and caught.value.hint


def test_a_baseline_of_another_task_or_version_is_refused(folders, task):
    other = get_task("nlp/food-reviews")
    with pytest.raises(UsageError, match="is a grading of tabular/credit-default, not of nlp/food-reviews"):
        baseline.load(folders["main"], other)
    newer = task.model_copy(update={"version": (task.version or 0) + 1})
    with pytest.raises(UsageError, match="whose hidden rows may differ"):
        baseline.load(folders["main"], newer)


def test_a_baseline_self_check_is_refused(folders, task, tmp_path):
    folder = tmp_path / "check"
    shutil.copytree(folders["main"], folder)
    report = read_report(folder)
    report.evaluated_on = "valid"
    (folder / "report.json").write_text(report.model_dump_json(), encoding="utf-8")
    with pytest.raises(UsageError, match="self-check on the public split"):
        baseline.load(folder, task)


def test_a_grading_that_scored_nothing_still_shows_the_baseline(folders, task):
    base = baseline.load(folders["main"], task)
    report = read_report(folders["branch"])
    report.metrics, report.baseline = {}, None
    baseline.finish(report, base)
    assert report.baseline is not None and report.baseline.notes
    assert all(d.delta is None and d.other is not None for d in report.baseline.metrics.values())
    assert np.isfinite(report.baseline.score.delta or 0)
