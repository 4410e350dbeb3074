"""What every renderer shows the same way: points, the submission's name, and why a report did not pass.

The terminal summary, report.md, report.html and junit.xml all import these, so a reader who
compares two of them for the same report sees the same strings (``9.96 / 14`` everywhere, never
``10.0/14.0`` in one and ``9.96/14`` in another), and the same reasons in the same order.
"""

from __future__ import annotations

from pathlib import Path

from grader.spec.report import Report, Requirement
from grader.submission.intake import submission_name

#: Decimals of every number of points (a criterion's, a section's, the total and the score).
POINT_DIGITS = 2
#: How the rubric engine (rubric/engine.py ``_blocking``) words the reason that is only a consequence.
_TOTAL_REASON = "the total, "
_TOTAL_RULE = "rubric total >= "


def points(value: float) -> str:
    """Points rounded to two decimals, without trailing zeros: ``9.96``, ``14``, ``2.5``, ``89.74``."""
    text = f"{round(value, POINT_DIGITS):.{POINT_DIGITS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def points_of(value: float, max_points: float) -> str:
    """``9.96 / 14``: points earned out of the most there are."""
    return f"{points(value)} / {points(max_points)}"


def signed_points(value: float | None) -> str:
    """A change of points or of the score: ``+3.5``, ``-0.25``, ``n/a`` when unknown."""
    if value is None:
        return "n/a"
    text = points(abs(value))
    return text if text == "0" else ("+" if value > 0 else "-") + text


def submission_label(report: Report) -> str:
    """Who or what was graded, for a title: the candidate, else the submission's name (its folder's or
    archive's), else the start of its content hash (a report with neither)."""
    sub = report.submission
    if sub.candidate:
        return sub.candidate
    if sub.path:
        name = submission_name(Path(sub.path))
        if name not in ("", ".", ".."):
            return name
    return f"sha256 {sub.sha256[:12]}" if sub.sha256 else "submission"


def is_total_reason(reason: str) -> bool:
    """Whether a reason of ``rubric.not_passed_because`` is the total below the pass mark."""
    return reason.startswith(_TOTAL_REASON)


def failure_reason(phase: str, kind: str, message: str) -> str:
    return f"[{phase}] {kind}: {message}"


def why_not_passed(report: Report) -> list[str]:
    """Why a graded report did not pass, the root cause first.

    The failures come first (a crash explains the zeros after it), then the failed gates and required
    criteria, and last "the total is below the pass mark", which is only their sum. Empty for a passed
    report, a self-check, and reports that were not graded (their failures say it all).
    """
    if report.status != "graded" or report.passed or report.evaluated_on == "valid":
        return []
    failures = [failure_reason(f.phase, f.kind, f.message) for f in report.failures]
    if report.rubric is not None and report.rubric.not_passed_because:
        rubric = report.rubric.not_passed_because
        causes = [r for r in rubric if not is_total_reason(r)]
        return failures + causes + [r for r in rubric if is_total_reason(r)]
    unmet = [f"{r.rule} (is {'n/a' if r.value is None else f'{r.value:.4g}'})"
             for r in ordered_rules(report.pass_rule) if not r.met]
    return failures + unmet


def ordered_rules(rules: list[Requirement]) -> list[Requirement]:
    """What passing requires, the rules not met first and, among them, the total last: the rule that
    explains the outcome is read before the total that only adds it up. A passed report keeps its order."""
    return sorted(rules, key=lambda r: (r.met, not r.met and r.rule.startswith(_TOTAL_RULE)))
