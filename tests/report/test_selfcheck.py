"""A self-check's estimate in every renderer: the terminal, report.md and report.html show the estimated
score as an estimate on public data, name each gate that would fail and by how much, say what the estimate
leaves out, and never speak of the hidden test split or of a score of a grade."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from rich.console import Console

from grader.report import html, markdown, selfcheck, terminal
from grader.report.format import points
from grader.spec.report import EstimatedGate, Report
from tests.report import load_fixture


def failing_gates() -> Report:
    """The self-check fixture as a majority-class model would have it: recall 0 against its gate of 0.6."""
    report = load_fixture("selfcheck")
    assert report.estimate is not None, "regenerate the fixture: python -m tests.report.make_fixtures selfcheck"
    recall = next(g for g in report.estimate.gates if g.figure == "recall")
    zero = recall.model_copy(update={"value": 0.0, "met": False, "borderline": False,
                                     "message": "recall 0.000 on validation, the gate is 0.6, short by 0.600"})
    report.estimate.gates = [zero if g is recall else g for g in report.estimate.gates]
    return report


def terminal_text(report: Report, *, verbose: bool = False) -> str:
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=200, color_system=None), verbose=verbose)
    return buffer.getvalue()


def page_text(report: Report) -> str:
    return unescape(" ".join(html.render(report).split()))


RENDERERS = {"terminal": terminal_text, "verbose": lambda r: terminal_text(r, verbose=True),
             "markdown": markdown.render, "html": page_text}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_the_estimate_shows_as_an_estimate_on_public_data(name):
    report = load_fixture("selfcheck")
    estimate = report.estimate
    assert estimate is not None and estimate.failing == []
    text = " ".join(RENDERERS[name](report).split())
    assert f"Heading for {points(estimate.score)} / 100 points (public validation split, an estimate, " \
           "not a grade)" in text.replace("\\", "")
    assert "the pass mark is 60" in text
    assert "written answers (30 points)" in text
    assert "would fail" not in text.lower()


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_a_failing_gate_is_named_with_its_validation_value_and_bound(name):
    report = failing_gates()
    assert report.exit_code == 1 and report.verdict.label == "Self-check: problems to fix"
    text = " ".join(RENDERERS[name](report).split())
    assert "recall 0.000 on validation, the gate is 0.6, short by 0.600" in text
    assert "SELF-CHECK: PROBLEMS TO FIX" in text or "Self-check: problems to fix" in text


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_a_self_check_never_speaks_of_the_hidden_test_or_a_graded_score(name):
    for report in (load_fixture("selfcheck"), failing_gates()):
        text = RENDERERS[name](report)
        assert "hidden test" not in text.lower() and "hidden-test" not in text.lower(), name
        assert not re.search(r"(?<!Brier )score (0|\*\*)", text), name  # a Brier score is no grade


def test_a_grading_has_no_estimate_section():
    report = load_fixture("reference")
    assert selfcheck.view(report) is None and selfcheck.terminal(report) == []
    assert selfcheck.markdown(report, inline=str, cell=str, code=str) == ""
    assert 'id="estimate"' not in html.render(report) and "Heading for" not in markdown.render(report)


def test_markdown_escapes_what_the_estimate_quotes():
    report = failing_gates()
    assert report.estimate is not None
    report.estimate.criteria[0].explanation = "a | b <script>x</script>"
    text = markdown.render(report)
    assert "<script>" not in text and "a \\| b" in text


def test_the_view_lists_failing_gates_first_as_the_verdict_does():
    report = failing_gates()
    shown = selfcheck.view(report)
    assert shown is not None
    assert shown.failing == list(report.verdict.reasons)
    assert all(isinstance(g, EstimatedGate) for g in report.estimate.gates)
