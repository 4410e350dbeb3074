"""Metric criteria: thresholds and linear scales, in the direction the figure says is better."""

from __future__ import annotations

import pytest

from grader.rubric.engine import grade
from tests.rubric.conftest import metric, rubric, section


def _one(ctx, criterion: dict):
    result = grade(rubric(section("s", 100, criterion)), ctx)
    return result.sections[0].criteria[0]


@pytest.mark.parametrize("settings, points", [
    ({"zero": 0.5, "full": 0.9}, 50.0),     # recall 0.7: halfway up
    ({"zero": 0.7, "full": 0.9}, 0.0),      # at zero
    ({"zero": 0.3, "full": 0.6}, 100.0),    # above full: capped
    ({"threshold": 0.7}, 100.0),            # meets it exactly
    ({"threshold": 0.71}, 0.0),
])
def test_higher_is_better(ctx, settings, points):
    assert _one(ctx, metric("r", "recall", **settings)).points == points


@pytest.mark.parametrize("settings, points", [
    ({"zero": 220, "full": 20}, 50.0),      # p95 120 ms: halfway down
    ({"zero": 100, "full": 20}, 0.0),       # slower than zero
    ({"threshold": 150}, 100.0),            # at most 150 ms
    ({"threshold": 100}, 0.0),
])
def test_lower_is_better(ctx, settings, points):
    assert _one(ctx, metric("l", "latency.p95_ms", **settings)).points == points


def test_explanation_and_gate(ctx):
    c = _one(ctx, metric("p", "precision", zero=0.3, full=0.8, gate=0.6))
    assert c.points == 50.0 and c.gate is not None and not c.gate.met and c.gate.rule == "precision >= 0.6"
    assert "precision of the positive class 'bad' is 0.55" in c.explanation
    assert "from 0.3 (none) to 0.8 (all)" in c.explanation
    assert "precision >= 0.6 is required (NOT met)" in c.explanation


def test_a_missing_figure_scores_nothing_and_says_why(ctx):
    c = _one(ctx, metric("a", "roc_auc", zero=0.5, full=0.9))
    assert c.points == 0.0 and "was not measured" in c.explanation
    ctx.report.reproducibility.runs = 1
    c = _one(ctx, metric("spread", "reproducibility.seed_spread", zero=0.1, full=0.0))
    assert "trained only once" in c.explanation


def test_a_gate_inside_the_interval_is_borderline_and_for_review(ctx):
    """precision 0.55 against a gate of 0.56 with a 95% interval 0.50-0.60: not met by the point estimate (the
    verdict does not move) but within sampling noise, so flagged for a person."""
    from grader.rubric.engine import settle_report
    from grader.spec.report import MetricInterval

    ctx.report.metrics_ci = {"precision": MetricInterval(low=0.50, high=0.60, level=0.95, method="m", resamples=10)}
    result = grade(rubric(section("s", 100, metric("p", "precision", threshold=0.3, gate=0.56))), ctx)
    c = result.sections[0].criteria[0]
    assert c.gate is not None and not c.gate.met and c.gate.borderline and c.gate.interval == [0.50, 0.60]
    assert c.points == 100.0 and c.needs_review and "p" in result.needs_review
    assert "within sampling noise: a person should decide" in c.explanation
    assert not result.passed and "(within sampling noise: a person should decide)" in result.not_passed_because[0]
    ctx.report.rubric = result
    settle_report(ctx.report)
    assert [r.borderline for r in ctx.report.pass_rule] == [False, True] and not ctx.report.passed


def test_a_gate_outside_the_interval_is_not_borderline(ctx):
    from grader.spec.report import MetricInterval

    ctx.report.metrics_ci = {"precision": MetricInterval(low=0.52, high=0.58, level=0.95, method="m", resamples=10)}
    c = _one(ctx, metric("p", "precision", threshold=0.3, gate=0.5))
    assert c.gate is not None and c.gate.met and not c.gate.borderline and not c.needs_review
    assert "sampling noise" not in c.explanation


def test_the_explanation_says_what_is_measured_on_a_binary_task(ctx):
    """A binary task scores the positive class it names, never "macro recall for multiclass tasks"."""
    c = _one(ctx, metric("r", "recall", zero=0.5, full=0.9))
    assert c.explanation.startswith("recall of the positive class 'bad' is 0.7;"), c.explanation
    assert "macro" not in c.explanation and "multiclass" not in c.explanation


def test_the_explanation_says_macro_on_a_multiclass_task(ctx):
    ctx.task = ctx.task.model_copy(update={"classes": ["a", "b", "c"], "positive_class": None})
    c = _one(ctx, metric("r", "recall", zero=0.5, full=0.9))
    assert c.explanation.startswith("macro recall (the mean over the 3 classes) is 0.7;"), c.explanation
    assert "positive class" not in c.explanation


def test_figures_that_are_not_class_metrics_keep_their_name(ctx):
    assert _one(ctx, metric("l", "latency.p95_ms", zero=220, full=20)).explanation.startswith("latency.p95_ms is ")


def test_the_shipped_rubric_titles_do_not_speak_of_another_kind_of_task():
    from grader.rubric.spec import get_rubric

    titles = [c.title for c in get_rubric("ml-engineer").criteria()]
    assert not [t for t in titles if "multiclass" in t or "macro" in t], titles
