"""Grade a rubric into the report's ``rubric`` section, and settle ``score`` and ``passed`` from it.

Points are absolute: a section's weight is its share of 100, split among its criteria by their
relative weights. What counts is each criterion's ``points`` (an interviewer's review when there
is one, else the automatic points); totals, ``passed`` and the reasons are always recomputed from
them, so a review can never leave a stale total behind.
"""

from __future__ import annotations

from collections.abc import Iterable

from grader.rubric.base import Context, CriterionSpec, Outcome, kinds, load_builtin_kinds
from grader.rubric.spec import RubricSpec
from grader.spec.report import CriterionResult, Report, Requirement, Review, RubricResult, SectionResult


def grade(rubric: RubricSpec, ctx: Context) -> RubricResult:
    load_builtin_kinds()
    sections = []
    for section in rubric.sections:
        weights = sum(c.weight for c in section.criteria)
        results = []
        for spec in section.criteria:
            max_points = round(section.weight * spec.weight / weights, 4)
            outcome = ctx.ready.get(spec.id) or grade_criterion(spec, ctx)
            got = None if outcome.fraction is None else min(1.0, max(0.0, outcome.fraction))
            points = round(max_points * (got or 0.0), 4)
            results.append(CriterionResult(
                id=spec.id, kind=spec.kind, title=spec.title, points=points, max_points=max_points,
                automatic_points=points, fraction=got, explanation=outcome.explanation, evidence=outcome.evidence,
                needs_review=outcome.needs_review or got is None, required=spec.required, gate=outcome.gate,
                second_opinion=outcome.second_opinion))
        sections.append(SectionResult(id=section.id, title=section.title, weight=section.weight, points=0,
                                      max_points=section.weight, automatic_points=0, criteria=results))
    return settle(RubricResult(id=rubric.id, version=rubric.version, title=rubric.title, pass_mark=rubric.pass_mark,
                               total=0, automatic_total=0, passed=False, automatic_passed=False, sections=sections))


def grade_criterion(spec: CriterionSpec, ctx: Context) -> Outcome:
    try:
        return kinds.get(spec.kind)().grade(spec, ctx)
    except Exception as exc:  # noqa: BLE001 - one criterion's bug must not cost the whole report
        return Outcome(None, f"could not be graded automatically ({type(exc).__name__}: {exc})")


def grade_ahead(rubric: RubricSpec, ctx: Context) -> dict[str, Outcome]:
    """The outcomes of the criteria that do not look at the report (the Dockerfile build), by id.

    For a thread that runs while the sandbox runs go on; put the result in ``ctx.ready`` before
    :func:`grade` (or a self-check) so those criteria are not graded twice.
    """
    load_builtin_kinds()
    return {spec.id: grade_criterion(spec, ctx) for spec in rubric.criteria()
            if not kinds.get(spec.kind)().reads_report(spec)}


def criteria(result: RubricResult) -> Iterable[CriterionResult]:
    return (c for s in result.sections for c in s.criteria)


def _blocking(result: RubricResult, total: float, points: dict[str, float]) -> list[str]:
    """Why a total and these points do not pass (empty: they pass)."""
    why = []
    if total < result.pass_mark:
        why.append(f"the total, {total:g}, is below the pass mark of {result.pass_mark:g}")
    for c in criteria(result):
        if c.gate is not None and not c.gate.met:
            value = "it was not measured" if c.gate.value is None else f"it is {c.gate.value:.4g}"
            noise = " (within sampling noise: a person should decide)" if c.gate.borderline else ""
            why.append(f"{c.id}: {c.gate.rule} is required to pass; {value}{noise}")
        if c.required and points[c.id] < c.max_points - 1e-9:
            why.append(f"{c.id} is required and earned {points[c.id]:g} of {c.max_points:g} points")
    return why


def settle(result: RubricResult) -> RubricResult:
    """Recompute section points, totals, ``passed`` and the reasons from the criteria's points."""
    for section in result.sections:
        section.points = round(sum(c.points for c in section.criteria), 4)
        section.automatic_points = round(sum(c.automatic_points for c in section.criteria), 4)
    result.total = round(sum(s.points for s in result.sections), 2)
    result.automatic_total = round(sum(s.automatic_points for s in result.sections), 2)
    result.not_passed_because = _blocking(result, result.total, {c.id: c.points for c in criteria(result)})
    result.passed = not result.not_passed_because
    result.automatic_passed = not _blocking(result, result.automatic_total,
                                            {c.id: c.automatic_points for c in criteria(result)})
    result.needs_review = [c.id for c in criteria(result) if c.needs_review and c.review is None]
    return result


def requirements(result: RubricResult) -> list[Requirement]:
    """What passing requires, each with its value: the report's ``pass_rule``."""
    rules = [Requirement(rule=f"rubric total >= {result.pass_mark:g}", value=result.total,
                         met=result.total >= result.pass_mark)]
    for c in criteria(result):
        if c.gate is not None:
            rules.append(c.gate)
        if c.required:
            rules.append(Requirement(rule=f"{c.id}: full points ({c.max_points:g})", value=c.points,
                                     met=c.points >= c.max_points - 1e-9))
    return rules


def apply_review(result: RubricResult, criterion: str, review: Review) -> None:
    """Put an interviewer's points on a criterion (clamped to its range); call :func:`settle` after."""
    for c in criteria(result):
        if c.id == criterion:
            c.points = round(min(c.max_points, max(0.0, review.points)), 4)
            c.review = review
            return
    raise KeyError(criterion)


def settle_report(report: Report) -> None:
    """``score``, ``passed`` and ``pass_rule`` of a graded report, from its rubric."""
    if report.rubric is None:
        return
    settle(report.rubric)
    report.score = report.rubric.total
    report.passed = report.status == "graded" and report.rubric.passed
    report.pass_rule = requirements(report.rubric)
