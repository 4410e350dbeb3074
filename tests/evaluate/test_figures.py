"""Figures: the names rules are written against, read from a report, each with its better direction."""

from __future__ import annotations

from typing import get_args

import pytest

from grader.errors import UnknownNameError
from grader.evaluate.figures import METRIC_DIGITS, Unit, figures, get_figure, metric_figure
from grader.spec.report import Latency, Report, Reproducibility, SeedCheck, TaskRef


def _report() -> Report:
    return Report(status="graded", task=TaskRef(id="tabular/credit-default"), metrics={"recall": 0.7, "precision": 0.6},
                  latency=Latency(measured=True, p95_ms=12.5, cold_start_ms=900.0),
                  reproducibility=Reproducibility(prediction_agreement=0.98,
                                                  seed_check=SeedCheck(seeds=[1, 2], max_spread=0.04)))


def test_metric_and_registered_figures_read_the_report():
    report = _report()
    assert get_figure("recall").value(report) == 0.7 and get_figure("recall").higher_is_better
    assert get_figure("roc_auc").value(report) is None  # a metric the report does not have
    assert get_figure("latency.p95_ms").value(report) == 12.5 and not get_figure("latency.p95_ms").higher_is_better
    assert get_figure("latency.p50_ms").value(report) is None
    assert get_figure("reproducibility.prediction_agreement").value(report) == 0.98
    assert get_figure("reproducibility.seed_spread").value(report) == 0.04
    assert all(figures.get(name).description for name in figures)


def test_unknown_figure_suggests_a_name():
    with pytest.raises(UnknownNameError, match="did you mean 'latency.cold_start_ms'"):
        get_figure("latency.coldstart_ms")


def test_repeated_runs_says_which_figures_need_more_than_one_training():
    """On a real report of one training every figure is measured except those marked ``repeated_runs``;
    on one of two trainings the same-seed ones are measured too."""
    from tests.report import load_fixture

    once, twice = load_fixture("selfcheck"), load_fixture("reference")
    assert once.reproducibility.runs == 1 and once.latency.measured and twice.reproducibility.runs == 2
    for name in figures:
        fig = figures.get(name)
        assert (fig.value(once) is None) == fig.repeated_runs, name
    assert get_figure("reproducibility.prediction_agreement").value(twice) is not None


def test_units_and_digits_of_figures():
    assert get_figure("recall").digits == METRIC_DIGITS and get_figure("recall").unit_suffix == ""
    assert get_figure("latency.p95_ms").unit_suffix == " ms" and get_figure("latency.peak_memory_mb").unit == "MB"
    assert get_figure("reproducibility.prediction_agreement").unit_suffix == ""  # a share: no unit in a sentence
    assert all(figures.get(name).digits >= 0 and figures.get(name).unit in get_args(Unit) for name in figures)
    unknown = metric_figure("made_up")  # an older report's metric
    assert unknown.higher_is_better and unknown.value(_report()) is None
