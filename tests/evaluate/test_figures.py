"""Figures: the names rules are written against, read from a report, each with its better direction."""

from __future__ import annotations

import pytest

from grader.errors import UnknownNameError
from grader.evaluate.figures import figures, get_figure
from grader.report.model import Latency, Report, Reproducibility, SeedCheck, TaskRef


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
