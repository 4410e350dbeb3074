"""A self-check's estimate (``report.estimate``) in the words every renderer shows: the terminal, report.md
and report.html take what they need from here, so the three say the same thing.

A self-check is no grade: every line here says that its figures come from the public validation split
and that the score is an estimate, names the gates the submission would fail and by how much, and says
what the estimate leaves out (written answers, figures that need repeated trainings) with its points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import RenderableType
from rich.text import Text

from grader.report.format import points, points_of
from grader.spec.report import EstimatedGate, Report, Requirement, SelfCheckEstimate

#: A Markdown escape: text in, literal Markdown out.
Escape = Callable[[str], str]
#: What a self-check is, for the lines above its figures.
NOTICE_TITLE = "Self-check on the public validation split"
NOTICE = ("an estimate to fix problems with, not a grade: the grade comes from data the candidate does not have, "
          "so it can differ.")


@dataclass(frozen=True)
class GateLine:
    """One gate, as a sentence, and whether the validation figure meets it."""

    text: str
    met: bool
    borderline: bool = False


@dataclass(frozen=True)
class CriterionLine:
    """One criterion of the estimate: its points (or "not estimated") and why."""

    id: str
    title: str
    points: str
    explanation: str
    estimated: bool
    required: bool = False


@dataclass(frozen=True)
class EstimateView:
    """What a renderer shows of a self-check's estimate; plain text, to be escaped by the renderer."""

    #: ``Heading for 42.5 / 100 points ...``: the estimate, its basis and the pass mark, in one sentence.
    headline: str
    #: The gates and required criteria the validation figures miss: what would fail a grading.
    failing: list[str]
    gates: list[GateLine] = field(default_factory=list)
    criteria: list[CriterionLine] = field(default_factory=list)
    #: What the estimate leaves out, and why (written answers, repeated trainings), with their points.
    left_out: list[str] = field(default_factory=list)
    basis: str = ""


def _requirement(r: Requirement) -> str:
    if isinstance(r, EstimatedGate):
        return r.message
    return f"{r.rule} is not met on the validation split" + ("" if r.value is None else f" (estimated {r.value:g})")


def headline(estimate: SelfCheckEstimate) -> str:
    """The points the submission is heading for, marked as an estimate on public data, against the pass mark
    (never called a score: that is the grade's)."""
    text = (f"Heading for {points(estimate.score)} / 100 points ({estimate.basis}, not a grade); "
            f"the pass mark is {points(estimate.pass_mark)}")
    if estimate.not_estimated_points:
        text += (f"; {points(estimate.not_estimated_points)} points are not estimated, so at most "
                 f"{points(estimate.ceiling)}")
    if estimate.failing:
        n = len(estimate.failing)
        text += f"; {n} gate{'s' if n > 1 else ''} would fail"
    elif estimate.ceiling < estimate.pass_mark:
        text += "; even with every point not estimated, below the pass mark"
    return text


def view(report: Report) -> EstimateView | None:
    """The estimate of a self-check, or None (a grading, or a self-check that did not get that far)."""
    estimate = report.estimate
    if report.evaluated_on != "valid" or estimate is None:
        return None
    gates = [GateLine(g.message, g.met, g.borderline) for g in estimate.gates]
    gates += [GateLine(_requirement(r) if not r.met else f"{r.rule}: met", r.met) for r in estimate.required]
    rows = [CriterionLine(c.id, c.title, "not estimated" if c.points is None else points_of(c.points, c.max_points),
                          c.explanation, c.points is not None, c.required) for c in estimate.criteria]
    return EstimateView(headline=headline(estimate), failing=[_requirement(r) for r in estimate.failing],
                        gates=gates, criteria=rows, left_out=list(estimate.not_estimated), basis=estimate.basis)


def terminal(report: Report, *, verbose: bool = False) -> list[RenderableType]:
    """Lines for the terminal: the estimate, each gate that would fail, what is left out (``verbose``: every
    gate and criterion too)."""
    shown = view(report)
    if shown is None:
        return []
    parts: list[RenderableType] = [Text.assemble(("estimate: ", "bold"), shown.headline)]
    for line in shown.failing:
        parts.append(Text.assemble(("would fail: ", "bold red"), line))
    if verbose:
        parts += [Text.assemble(("gate met: ", "green"), g.text) for g in shown.gates if g.met]
        parts += [Text(f"  {c.id}: {c.points}: {c.explanation}", style="" if c.estimated else "dim")
                  for c in shown.criteria]
    parts += [Text(f"not estimated: {why}", style="dim") for why in shown.left_out]
    return parts


def markdown(report: Report, *, inline: Escape, cell: Escape, code: Escape) -> str:
    """report.md's self-check section: the notice, the estimate, the gates, the criteria; empty for a grading.

    ``inline``, ``cell`` and ``code`` are report.md's escapes (:mod:`grader.report.markdown`, which calls this:
    passed in, so that neither module imports the other back)."""
    if report.evaluated_on != "valid":
        return ""
    parts = [f"> [!NOTE]\n> **{NOTICE_TITLE}**: {NOTICE}"]
    shown = view(report)
    if shown is None:
        return parts[0]
    parts.append(f"### Estimate on the public validation split\n\n**{inline(shown.headline)}**")
    if shown.failing:
        parts.append("Gates that would fail:\n\n" + "\n".join(f"- ❌ {inline(line)}" for line in shown.failing))
    met = [g for g in shown.gates if g.met]
    if met:
        parts.append("Gates met on validation:\n\n" + "\n".join(f"- {inline(g.text)}" for g in met))
    rows = ["| criterion | estimated points | why |", "| --- | ---: | --- |"]
    rows += [f"| {code(c.id)}{' (required)' if c.required else ''} | {c.points} | {cell(c.explanation)} |"
             for c in shown.criteria]
    parts.append("\n".join(rows))
    if shown.left_out:
        parts.append("Not part of the estimate:\n\n" + "\n".join(f"- {inline(why)}" for why in shown.left_out))
    return "\n\n".join(parts)
