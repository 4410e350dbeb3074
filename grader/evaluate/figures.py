"""Named figures of a report that rules can be written against: metrics, latency, reproducibility.

A figure is a number read from a :class:`~grader.report.model.Report`, with the direction that is
better. Metric names (``recall``) resolve to ``report.metrics``; the others are registered here
under dotted names (``latency.p95_ms``). The pass rule uses them, and so will the rubric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.errors import UnknownNameError
from grader.registry import Registry

if TYPE_CHECKING:
    from grader.report.model import Report


@dataclass(frozen=True)
class Figure:
    name: str
    higher_is_better: bool
    unit: str
    description: str
    read: Callable[[Report], float | None]

    def value(self, report: Report) -> float | None:
        value = self.read(report)
        return None if value is None else float(value)


figures: Registry[Figure] = Registry("figure")


def figure(name: str, *, higher_is_better: bool, unit: str, description: str,
           read: Callable[[Report], float | None]) -> None:
    figures.register(name)(Figure(name, higher_is_better, unit, description, read))


def _latency(field: str) -> Callable[[Report], float | None]:
    return lambda r: getattr(r.latency, field)


for _p in ("p50", "p90", "p95", "p99"):
    figure(f"latency.{_p}_ms", higher_is_better=False, unit="ms", read=_latency(f"{_p}_ms"),
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
figure("reproducibility.prediction_agreement", higher_is_better=True, unit="share",
       read=lambda r: r.reproducibility.prediction_agreement,
       description="Share of identical predictions between trainings with the same seed.")
figure("reproducibility.max_metric_diff", higher_is_better=False, unit="",
       read=lambda r: r.reproducibility.max_metric_diff,
       description="Largest difference of a metric between trainings with the same seed.")
figure("reproducibility.seed_spread", higher_is_better=False, unit="",
       read=lambda r: r.reproducibility.seed_check.max_spread if r.reproducibility.seed_check else None,
       description="Largest spread of a metric across different seeds.")


def get_figure(name: str) -> Figure:
    """The figure called ``name``: a metric of :mod:`grader.evaluate.metrics`, or a registered figure."""
    from grader.evaluate.metrics import metrics

    if name in metrics:
        m = metrics.get(name)
        return Figure(name, m.higher_is_better, "", m.description, lambda r: r.metrics.get(name))
    if name in figures:
        return figures.get(name)
    raise UnknownNameError("figure", name, [*metrics.names(), *figures.names()])
