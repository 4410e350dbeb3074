"""``report.html``: the report for interviewers, one self-contained page.

Written for a reader who is not a specialist: the verdict first, then why, then the evidence.
The page needs nothing but itself (inline CSS, inline SVG figures, no script, no fonts or images
to fetch), so it can be mailed, archived or opened offline, and it is the same bytes for the same
report. Candidate-controlled text (answers, stderr, file names) only reaches the page through the
template's autoescaping; the figures are the only markup passed through unescaped, and they are
drawn here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from grader.errors import UnknownNameError
from grader.report import plots, selfcheck
from grader.report.format import ordered_rules, points, points_of, signed_points, submission_label, why_not_passed
from grader.spec.report import CriterionResult, Environment, Failure, Outcome, Report

if TYPE_CHECKING:
    from grader.spec.task import ResourceLimits

TEMPLATE = "report.html.j2"

#: The verdict's css class (its colour), by its outcome.
VERDICT_CSS: dict[Outcome, str] = {"passed": "pass", "not_passed": "fail", "invalid": "invalid", "error": "error"}

PHASES = {"validate": "Checking the submission", "prepare": "Preparing the run", "train": "Training",
          "predict": "Prediction", "score": "Scoring", "grader": "The grader"}

#: What each kind of failure means, for a reader who does not know the sandbox.
FAILURES: dict[str, tuple[str, str]] = {
    "timeout": ("ran out of time", "The code did not finish within the time limit, so the grader stopped it."),
    "oom": ("ran out of memory", "The code used more memory than the sandbox allows and was killed."),
    "crash": ("crashed", "The code stopped with an error; the last lines it printed are below."),
    "invalid_output": ("returned answers that could not be scored",
                       "The model ran, but its predictions were not in the form the task asks for."),
    "invalid_submission": ("breaks the submission rules",
                           "The files handed in do not follow the submission contract, so nothing was run."),
    "limit_exceeded": ("went over a sandbox limit",
                       "The code hit one of the sandbox's limits (processes, disk space or file size)."),
    "sandbox_error": ("failed on the grader's side",
                      "The grading machinery failed, not the candidate's code; grade the submission again "
                      "once the problem below is fixed."),
}

#: Task limits (``environment.limits``) in words, with their unit.
LIMITS: dict[str, tuple[str, str]] = {
    "cpus": ("CPUs", ""), "memory_mb": ("Memory", " MB"), "pids": ("Processes", ""),
    "artifacts_mb": ("Model artifacts (/artifacts)", " MB"), "tmp_mb": ("Scratch space (/tmp)", " MB"),
    "file_size_mb": ("Largest file", " MB"), "open_files": ("Open files", ""),
    "train_timeout_s": ("Training time", " s"), "predict_timeout_s": ("Prediction time", " s"),
}

#: ``<key point> (<description>): line <n>: "<sentence>" (matched: <words>)``, the evidence a question criterion
#: writes (rubric/question.py; older reports have no description and no ``(matched: ...)``).
_FOUND = re.compile(r'^(?P<id>[\w.-]+)(?: \((?P<description>.*?)\))?: line (?P<line>\d+): "(?P<text>.*)"'
                    r'(?: \(matched: (?P<matched>[^"]*)\))?$', re.S)
#: ``; missing: <id> (<description>); ...`` up to ``; <n> words in sentences``, in the same criterion's explanation.
_MISSING = re.compile(r"(?:^|; )missing: (?P<items>.*?)(?=; \d+ words in sentences)")
_MISSING_ITEM = re.compile(r"^(?P<id>[\w.-]+) \((?P<text>.*)\)$", re.S)


@dataclass
class KeyPoint:
    id: str
    text: str
    line: int | None = None
    #: The answer's words that earned the key point.
    matched: str = ""
    #: What a good answer says, from the rubric (reports written before it was recorded have none).
    description: str = ""


@dataclass
class Answer:
    """A written-answer criterion as the page shows it: the candidate's sentences beside the key points."""

    criterion: CriterionResult
    #: The explanation without its list of missing key points (the page lists them beside the answer).
    summary: str = ""
    found: list[KeyPoint] = field(default_factory=list)
    missing: list[KeyPoint] = field(default_factory=list)
    other_evidence: list[str] = field(default_factory=list)


def answers(report: Report) -> list[Answer]:
    """The question criteria of the rubric, their evidence split into key points found and missing."""
    result = []
    for section in report.rubric.sections if report.rubric else []:
        for c in section.criteria:
            if c.kind != "question":
                continue
            answer = Answer(c, summary(c))
            for line in c.evidence:
                m = _FOUND.match(line)
                if m:
                    answer.found.append(KeyPoint(m["id"], m["text"], int(m["line"]), m["matched"] or "",
                                                 m["description"] or ""))
                else:
                    answer.other_evidence.append(line)
            m = _MISSING.search(c.explanation)
            for item in m["items"].split("; ") if m else []:
                im = _MISSING_ITEM.match(item)
                answer.missing.append(KeyPoint(im["id"], im["text"]) if im else KeyPoint("", item))
            result.append(answer)
    return result


def summary(c: CriterionResult) -> str:
    """A question criterion's explanation without the key points it misses (listed apart); others as is."""
    return _MISSING.sub("", c.explanation, count=1) if c.kind == "question" else c.explanation


def failure_title(failure: Failure) -> str:
    """``Training: crashed``: where it happened and what happened, in plain words."""
    return f"{PHASES[failure.phase]}: {FAILURES[failure.kind][0]}"


def failure_meaning(failure: Failure) -> str:
    return FAILURES[failure.kind][1]


def limit_rows(limits: ResourceLimits) -> list[tuple[str, str]]:
    """The task's limits as (what, how much) rows: ``Memory``, ``1,536 MB``."""
    rows = []
    for key, value in limits.model_dump().items():
        label, unit = LIMITS[key]
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        rows.append((label, fmt(value, 1) + unit))
    return rows


def metric_description(name: str, multiclass: bool = False) -> str:
    from grader.evaluate.metrics import metrics

    try:
        metric = metrics.get(name)
    except UnknownNameError:  # a metric unknown to this grader's version is still shown, unexplained
        return ""
    text = metric.description
    if multiclass and metric.macro:
        text += " Here: each class in turn against the rest, then the mean over the classes."
    return text + (" Higher is better." if metric.higher_is_better else " Lower is better.")


#: The environment's facts the page shows in their own rows; the others are listed under "everything else".
SHOWN_ENVIRONMENT = ("grader_version", "host_python", "seed", "sandbox", "limits")


def environment_extra(env: Environment) -> list[tuple[str, Any]]:
    """The environment's recorded facts that have no row of their own, as (key, plain value) pairs."""
    return [(k, v) for k, v in env.model_dump(mode="json").items() if k not in SHOWN_ENVIRONMENT]


def fmt(value: Any, digits: int = 3) -> str:
    """A figure for a table: ``n/a`` when missing, thousands separators, fixed decimals."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def ms(value: float | None) -> str:
    """Milliseconds with the decimals that matter at their size: 0.81, 16.9, 2,044."""
    if value is None:
        return "n/a"
    return fmt(value, 2 if abs(value) < 10 else 1 if abs(value) < 100 else 0)


def sig(value: float | None) -> str:
    """Four significant digits, no trailing zeros: a threshold's value as the rule reads (0.6892, 89.73, 0)."""
    return "n/a" if value is None else f"{value:.4g}"


def share(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{100 * value:.{digits}f} %"


def size(n: int | None) -> str:
    """Bytes for a reader: ``189.0 KB``."""
    if n is None:
        return "n/a"
    if n < 1024:
        return f"{n:,} bytes"
    value = float(n)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:,.1f} {unit}"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("grader", "templates/report"), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(fmt=fmt, ms=ms, sig=sig, share=share, size=size, points=points, signed_points=signed_points)
    env.globals.update(points_of=points_of)
    env.globals.update(failure_title=failure_title, summary=summary, failure_meaning=failure_meaning,
                       metric_description=metric_description, limit_rows=limit_rows,
                       environment_extra=environment_extra)
    return env


def render(report: Report) -> str:
    """The page for ``report``; the same report always gives the same text."""
    verdict = report.verdict
    figures = {
        "confusion": plots.confusion_matrix(report.confusion_matrix),
        "pr": plots.pr_curves(report.curves),
        "latency": plots.latency_cdf(report.latency),
        "reliability": plots.reliability(report.calibration),
    }
    rubric = report.rubric
    return _environment().get_template(TEMPLATE).render(
        report=report, verdict=verdict, verdict_css=VERDICT_CSS[verdict.outcome],
        figures={k: Markup(v) for k, v in figures.items() if v is not None},
        answers=answers(report),
        reviewed=bool(rubric and any(c.review for s in rubric.sections for c in s.criteria)),
        sandbox=report.environment.sandbox,
        label=submission_label(report), why=why_not_passed(report), pass_rule=ordered_rules(report.pass_rule),
        multiclass=len((report.confusion_matrix or {}).get("labels") or report.per_class) > 2,
        estimate=selfcheck.view(report),  # the template escapes every text
    )
