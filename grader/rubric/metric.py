"""``metric`` criteria: a figure of the report mapped to points.

Either a ``threshold`` (all or nothing) or a linear scale from ``zero`` (no points) to ``full``
(all points). The direction comes from the figure: for recall higher is better, so ``full`` is above
``zero``; for latency lower is better, so ``full`` is below ``zero``. ``gate`` is a value the figure
must reach for the submission to pass at all, whatever its total.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import model_validator

from grader.errors import UnknownNameError
from grader.evaluate.figures import Figure, get_figure
from grader.rubric.base import Context, CriterionKind, CriterionSpec, Outcome, kinds

if TYPE_CHECKING:
    from grader.spec.report import Requirement


class MetricSpec(CriterionSpec):
    kind: Literal["metric"]
    figure: str
    threshold: float | None = None
    zero: float | None = None
    full: float | None = None
    gate: float | None = None

    @model_validator(mode="after")
    def _one_mapping(self) -> MetricSpec:
        try:
            figure = get_figure(self.figure)
        except UnknownNameError as exc:
            raise ValueError(str(exc)) from None
        scale = self.zero is not None or self.full is not None
        if (self.threshold is not None) == scale:
            raise ValueError(f"criterion {self.id!r}: give either 'threshold', or both 'zero' and 'full'")
        if scale:
            if self.zero is None or self.full is None:
                raise ValueError(f"criterion {self.id!r}: a scale needs both 'zero' and 'full'")
            if figure.higher_is_better and not self.full > self.zero:
                raise ValueError(f"criterion {self.id!r}: higher {self.figure} is better, so 'full' ({self.full:g}) "
                                 f"must be above 'zero' ({self.zero:g})")
            if not figure.higher_is_better and not self.full < self.zero:
                raise ValueError(f"criterion {self.id!r}: lower {self.figure} is better, so 'full' ({self.full:g}) "
                                 f"must be below 'zero' ({self.zero:g})")
        return self

    def gate_rule(self) -> str | None:
        """``recall >= 0.6``: what the figure must reach to pass, or None without a gate."""
        if self.gate is None:
            return None
        return f"{self.figure} {'>=' if get_figure(self.figure).higher_is_better else '<='} {self.gate:g}"


def _fmt(value: float, figure: Figure) -> str:
    number = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return number + figure.unit_suffix


def measured(name: str, classes: list[str], positive_class: str | None) -> str:
    """What a figure measures on this task, for the criterion's text: ``recall of the positive class 'bad'``
    on a binary task, ``macro recall (the mean over the 10 classes)`` on a multiclass one; other figures
    (latency, accuracy, ...) by their name."""
    from grader.evaluate.metrics import metrics

    try:
        macro = metrics.get(name).macro
    except UnknownNameError:  # a figure that is not a metric (latency.p95_ms, ...)
        return name
    if not macro:
        return name
    if len(classes) == 2 and positive_class is not None:
        return f"{name} of the positive class '{positive_class}'"
    return f"macro {name} (the mean over the {len(classes)} classes)"


def meets(value: float, bound: float, figure: Figure) -> bool:
    return value >= bound if figure.higher_is_better else value <= bound


def fraction(spec: MetricSpec, value: float, figure: Figure) -> float:
    if spec.threshold is not None:
        return 1.0 if meets(value, spec.threshold, figure) else 0.0
    assert spec.zero is not None and spec.full is not None
    return min(1.0, max(0.0, (value - spec.zero) / (spec.full - spec.zero)))


@kinds.register("metric")
class MetricKind(CriterionKind):
    name = "metric"
    spec = MetricSpec

    def grade(self, spec: CriterionSpec, ctx: Context) -> Outcome:
        assert isinstance(spec, MetricSpec)
        figure = get_figure(spec.figure)
        value = figure.value(ctx.report)
        op = ">=" if figure.higher_is_better else "<="
        gate = None
        if spec.gate is not None:
            from grader.spec.report import Requirement  # not at import: loading a rubric needs no report

            interval = ctx.report.metrics_ci.get(spec.figure)
            gate = Requirement(rule=spec.gate_rule() or "", value=value,
                               met=value is not None and meets(value, spec.gate, figure),
                               borderline=interval is not None and interval.low <= spec.gate <= interval.high,
                               interval=None if interval is None else [interval.low, interval.high])
        what = measured(spec.figure, ctx.task.classes, ctx.task.positive_class)
        if value is None:
            why = "the run failed before it, or the task does not measure it"
            if figure.repeated_runs and ctx.report.reproducibility.runs < 2:
                why = "the submission was trained only once (reproducibility.runs: 1), so there was nothing to compare"
            return Outcome(0.0, f"{what} was not measured ({why}): no points", gate=gate)
        got = fraction(spec, value, figure)
        if spec.threshold is not None:
            why = (f"{what} is {_fmt(value, figure)}, {'meeting' if got else 'missing'} the threshold "
                   f"{op} {_fmt(spec.threshold, figure)}: {'all' if got else 'no'} points")
        else:
            assert spec.zero is not None and spec.full is not None
            why = (f"{what} is {_fmt(value, figure)}; points scale from {_fmt(spec.zero, figure)} (none) to "
                   f"{_fmt(spec.full, figure)} (all): {got:.0%} of the points")
        if gate is not None:
            why += f"; to pass, {gate.rule} is required ({'met' if gate.met else 'NOT met'})"
            if gate.borderline:
                why += f"; {borderline_note(gate)}"
        return Outcome(got, why, gate=gate, needs_review=gate is not None and gate.borderline)


def borderline_note(gate: Requirement) -> str:
    """Why a gate met (or missed) by a hair is for a person to decide: its bound is inside the interval."""
    assert gate.interval is not None
    low, high = gate.interval
    return (f"within sampling noise: a person should decide (the 95% interval, {low:.4g} to {high:.4g}, "
            "contains the bound)")
