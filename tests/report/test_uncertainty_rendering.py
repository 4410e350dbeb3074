"""Every rendering shows the intervals, the borderline gates and the calibration: the reference report
re-scored with real predictions of its task (``tests/cohort.py``), graded by the real rubric, then rendered."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from grader import rubric
from grader.data import splits
from grader.evaluate import scoring, uncertainty
from grader.report import html, junit, markdown, terminal
from grader.rubric.engine import settle_report
from grader.spec.report import MetricInterval, Report
from grader.spec.task import get_task
from tests.cohort import NUMERIC, fit
from tests.report import load_fixture


@pytest.fixture(scope="module")
def report() -> Report:
    """The reference report with a real model's figures, and a gate a hair under its precision."""
    task = get_task("tabular/credit-default")
    labels, proba = fit(task, NUMERIC)
    truth = splits.labels(task, "test")
    checked = scoring.Checked(labels=labels, proba=proba)
    outcome = scoring.outcome_of(task, truth, checked)
    report = load_fixture("reference")
    report.metrics, report.confusion_matrix = scoring.score(task, truth, checked)
    report.metrics_ci = uncertainty.intervals(outcome, task.metrics)
    report.calibration = uncertainty.calibration(outcome)
    precision = report.metrics["precision"]
    assert precision is not None
    criteria = {**task.rubric.criteria, "precision": {**task.rubric.criteria["precision"],
                                                       "gate": round(precision - 0.005, 3)}}
    gated = task.model_copy(update={"rubric": task.rubric.model_copy(update={"criteria": criteria})})
    spec = gated.rubric_spec()
    report.rubric = rubric.grade(spec, rubric.Context(report=report, task=task))
    settle_report(report)
    return report


def test_the_borderline_gate_is_met_for_review(report):
    gate = next(r for r in report.pass_rule if r.rule.startswith("precision >="))
    assert gate.met and gate.borderline and gate.interval is not None
    assert report.metrics_ci["precision"].low < gate.interval[1]


def test_markdown_shows_intervals_borderline_and_calibration(report):
    text = markdown.render(report)
    ci: MetricInterval = report.metrics_ci["recall"]
    assert "| 95% interval | " in text and f"{ci.low:.4f} – {ci.high:.4f}" in text
    assert "### ⚖️ Within sampling noise: a person should decide" in text
    assert text.index("Within sampling noise") < text.index("### Rubric")
    assert "Brier score" in text and f"stratified percentile bootstrap, {uncertainty.RESAMPLES:,} resamples" in text


def test_html_shows_intervals_borderline_and_the_reliability_plot(report):
    page = html.render(report)
    ci = report.metrics_ci["recall"]
    assert "95% interval</th>" in page and f"{ci.low:,.4f} – {ci.high:,.4f}" in page
    assert "badge-review\">borderline</span>" in page and "Within sampling noise: a person should decide." in page
    assert 'class="plot plot-reliability"' in page and "Brier score" in page


def test_terminal_and_junit_say_so_too(report):
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=200, color_system=None), verbose=True)
    text = buffer.getvalue()
    assert "95% interval" in text and "borderline: precision >=" in text and "Brier" in text
    assert "within sampling noise: a person should decide" in junit.render(report)
