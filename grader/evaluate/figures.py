"""Named figures of a report that rules can be written against: metrics, latency, reproducibility.

A figure is a number read from a :class:`~grader.spec.report.Report`, with what every consumer
needs to know about it: the direction that is better, its unit, the decimals a table shows, and
whether it exists only when training ran more than once. Metric names (``recall``) resolve to
``report.metrics``; the others are registered here under dotted names (``latency.p95_ms``). Rubrics,
``grader compare`` and MLflow read these facts from here, never from the figure's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from grader.errors import UnknownNameError
from grader.registry import Registry

if TYPE_CHECKING:
    from grader.spec.report import Report

#: ``share``: a fraction between 0 and 1; ``""``: a plain number (a metric, a difference of metrics).
Unit = Literal["ms", "MB", "items/s", "share", ""]
#: Decimals of a metric (and of anything on a metric's scale) in tables.
METRIC_DIGITS = 4


@dataclass(frozen=True)
class Figure:
    name: str
    higher_is_better: bool
    unit: Unit
    description: str
    read: Callable[[Report], float | None]
    #: Decimals a table shows.
    digits: int = 3
    #: Only measured when the task trains more than once (``reproducibility.runs``, ``other_seed``).
    repeated_runs: bool = False
    #: A column title for tables; the name when empty.
    title: str = ""

    def value(self, report: Report) -> float | None:
        value = self.read(report)
        return None if value is None else float(value)

    @property
    def unit_suffix(self) -> str:
        """What follows a number of this figure in a sentence (`` ms``); nothing for shares and plain numbers."""
        return f" {self.unit}" if self.unit not in ("", "share") else ""


figures: Registry[Figure] = Registry("figure")


def figure(name: str, *, higher_is_better: bool, unit: Unit, description: str,
           read: Callable[[Report], float | None], digits: int = 3, repeated_runs: bool = False,
           title: str = "") -> None:
    figures.register(name)(Figure(name, higher_is_better, unit, description, read, digits, repeated_runs, title))


def _latency(field: str) -> Callable[[Report], float | None]:
    return lambda r: getattr(r.latency, field)


for _p in ("p50", "p90", "p95", "p99"):
    figure(f"latency.{_p}_ms", higher_is_better=False, unit="ms", read=_latency(f"{_p}_ms"), title=f"{_p} ms",
           description=f"{_p} of single-item prediction latency (nearest rank), timed outside the candidate's process")
figure("latency.mean_ms", higher_is_better=False, unit="ms", read=_latency("mean_ms"),
       description="Mean single-item prediction latency.")
figure("latency.max_ms", higher_is_better=False, unit="ms", read=_latency("max_ms"),
       description="Slowest single-item prediction.")
figure("latency.cold_start_ms", higher_is_better=False, unit="ms", read=_latency("cold_start_ms"),
       description="Importing the predict module and calling load('/artifacts').")
figure("latency.peak_memory_mb", higher_is_better=False, unit="MB", read=_latency("peak_memory_mb"),
       description="Peak resident memory of the model's process while serving.")
figure("latency.full_batch_items_per_s", higher_is_better=True, unit="items/s",
       read=lambda r: r.latency.full_batch.items_per_s if r.latency.full_batch else None,
       description="Throughput on the whole hidden-test input in one call.")
figure("reproducibility.prediction_agreement", higher_is_better=True, unit="share", digits=METRIC_DIGITS,
       repeated_runs=True, title="agreement", read=lambda r: r.reproducibility.prediction_agreement,
       description="Share of identical predictions between trainings with the same seed.")
figure("reproducibility.max_metric_diff", higher_is_better=False, unit="", digits=METRIC_DIGITS, repeated_runs=True,
       read=lambda r: r.reproducibility.max_metric_diff,
       description="Largest difference of a metric between trainings with the same seed.")
figure("reproducibility.seed_spread", higher_is_better=False, unit="", digits=METRIC_DIGITS, repeated_runs=True,
       read=lambda r: r.reproducibility.seed_check.max_spread if r.reproducibility.seed_check else None,
       description="Largest spread of a metric across different seeds.")

figure("calibration.brier", higher_is_better=False, unit="", digits=METRIC_DIGITS, title="Brier",
       read=lambda r: r.calibration.brier if r.calibration else None,
       description="Brier score of predict_proba: mean squared error of the probabilities (0 is perfect).")


def metric_figure(name: str, higher_is_better: bool = True, description: str = "") -> Figure:
    """The figure of a metric: ``report.metrics[name]``, a plain number at the metrics' precision.

    A metric this grader does not know (in an older report) is taken as higher-is-better, as every
    metric of :mod:`grader.evaluate.metrics` is."""
    return Figure(name, higher_is_better, "", description, lambda r: r.metrics.get(name), METRIC_DIGITS)


def get_figure(name: str) -> Figure:
    """The figure called ``name``: a metric of :mod:`grader.evaluate.metrics`, or a registered figure."""
    from grader.evaluate.metrics import metrics

    if name in metrics:
        m = metrics.get(name)
        return metric_figure(name, m.higher_is_better, m.description)
    if name in figures:
        return figures.get(name)
    raise UnknownNameError("figure", name, [*metrics.names(), *figures.names()])
