"""What ``grader check`` tells a candidate beyond the metrics: the rubric estimated on the validation split,
the gates that would fail, the rubric's checks, and missing answers.

A self-check grades the rubric on the PUBLIC validation figures (:func:`estimate`): each gate with its
validation value, the points each criterion is heading for, and what cannot be estimated there, left out
with its points. Written answers are never graded here: they are graded on key points that are for
interviewers, not for tuning answers, so the notes only say which questions are not answered. Figures that
need repeated trainings (same-seed agreement) are left out too: a self-check trains once.
"""

from __future__ import annotations

from grader.evaluate.figures import get_figure
from grader.rubric import answers as md
from grader.rubric.base import Context, CriterionSpec, Outcome, kinds, load_builtin_kinds
from grader.rubric.engine import criteria, grade
from grader.rubric.metric import MetricSpec
from grader.rubric.question import ANSWERS_FILE
from grader.rubric.spec import RubricSpec
from grader.spec.report import EstimatedCriterion, EstimatedGate, Requirement, SelfCheckEstimate

BASIS = "public validation split, an estimate"
#: Why written answers are not part of the estimate, in the words every renderer shows.
ANSWERS_LEFT_OUT = ("written answers", "graded on key points that only interviewers see")


def _left_out(spec: CriterionSpec, runs: int) -> tuple[str, str] | None:
    """What a criterion is and why it cannot be estimated on a self-check, or None when it can."""
    if spec.kind == "question":
        return ANSWERS_LEFT_OUT
    if isinstance(spec, MetricSpec) and get_figure(spec.figure).repeated_runs and runs < 2:
        return (spec.title[:1].lower() + spec.title[1:],
                "needs repeated trainings, and a self-check trains once (`grader grade` measures it)")
    if spec.kind not in ("metric", "check"):
        return f"{spec.kind} criteria", "graded only by `grader grade`"
    return None


def _gate(spec: MetricSpec, gate: Requirement) -> EstimatedGate:
    figure = get_figure(spec.figure)
    assert spec.gate is not None
    digits = min(figure.digits, 3)
    value = "not measured" if gate.value is None else f"{gate.value:.{digits}f}{figure.unit_suffix}"
    bound = f"{spec.gate:g}{figure.unit_suffix}"
    if gate.met:
        words = f"{spec.figure} {value} on validation meets its gate, {gate.rule}"
    else:
        short = "" if gate.value is None else f", short by {abs(gate.value - spec.gate):.{digits}f}"
        words = f"{spec.figure} {value} on validation, the gate is {bound}{short}"
    if gate.borderline:
        words += " (within sampling noise)"
    return EstimatedGate(**gate.model_dump(), criterion=spec.id, figure=spec.figure, bound=spec.gate, message=words)


def estimate(rubric: RubricSpec, ctx: Context) -> SelfCheckEstimate:
    """The rubric graded on the report's validation figures, as an estimate (never the report's grade).

    Criteria that cannot be judged on public data are not graded at all (a written answer's grading
    would show its key points): they are given an ungraded outcome up front, so the engine skips them,
    and their points are listed as not estimated.
    """
    load_builtin_kinds()
    specs = {spec.id: spec for spec in rubric.criteria()}
    runs = ctx.report.reproducibility.runs
    left_out = {cid: why for cid, spec in specs.items() if (why := _left_out(spec, runs)) is not None}
    ready = {**ctx.ready, **{cid: Outcome(None, f"not estimated: {what}: {why}")
                              for cid, (what, why) in left_out.items()}}
    result = grade(rubric, Context(report=ctx.report, task=ctx.task, submission=ctx.submission,
                                   sandbox=ctx.sandbox, ready=ready))
    graded: list[EstimatedCriterion] = []
    for section in result.sections:
        for c in section.criteria:
            graded.append(EstimatedCriterion(id=c.id, kind=c.kind, title=c.title, section=section.id,
                                             max_points=c.max_points, required=c.required,
                                             points=None if c.id in left_out else c.points,
                                             explanation=c.explanation))
    gates = [_gate(spec, c.gate) for c in criteria(result) if c.gate is not None and c.id not in left_out
             and isinstance(spec := specs[c.id], MetricSpec)]
    required = [Requirement(rule=f"{c.id}: full points ({c.max_points:g})", value=c.points,
                            met=c.points >= c.max_points - 1e-9)
                for c in criteria(result) if c.required and c.id not in left_out]
    not_estimated: list[str] = []
    for what, reason in dict.fromkeys(left_out.values()):
        points = sum(c.max_points for c in graded if left_out.get(c.id) == (what, reason))
        not_estimated.append(f"{what} ({points:g} points): {reason}")
    return SelfCheckEstimate(basis=BASIS, score=round(sum(c.points or 0.0 for c in graded), 2),
                             not_estimated_points=round(sum(c.max_points for c in graded if c.points is None), 2),
                             pass_mark=rubric.pass_mark, gates=gates, required=required, criteria=graded,
                             not_estimated=not_estimated)


def notes(rubric: RubricSpec, ctx: Context, estimated: SelfCheckEstimate | None = None) -> list[str]:
    """What the candidate can still fix: the rubric's checks that would not earn their points, and the written
    questions left unanswered (never how answers are graded). ``estimated``: the checks graded already."""
    load_builtin_kinds()
    found: list[str] = []
    done = {c.id: c for c in estimated.criteria} if estimated is not None else {}
    for spec in rubric.criteria():
        if spec.kind != "check":
            continue
        if spec.id in done:
            c = done[spec.id]
            if (c.points or 0.0) < c.max_points - 1e-9:
                found.append(f"{spec.title}: {c.explanation}")
            continue
        outcome = ctx.ready.get(spec.id) or kinds.get("check")().grade(spec, ctx)
        if outcome.fraction is None or outcome.fraction < 1:
            found.append(f"{spec.title}: {outcome.explanation}")
    path = ctx.submission / ANSWERS_FILE if ctx.submission else None
    parsed = md.parse(path.read_text(encoding="utf-8", errors="replace")) if path and path.is_file() else []
    for question in rubric.questions():
        answer = md.find(parsed, question.id)
        if answer is None or not answer.sentences:
            found.append(f"{ANSWERS_FILE} has no answer under '## {question.id}': {question.question}")
    return found
