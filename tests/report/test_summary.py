"""What a reader sees first, the same in every renderer: the short terminal summary, one rounding rule for
points, the submission's name as the title, and the root cause of a failed report before its total."""

from __future__ import annotations

import io
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from rich.console import Console

from grader.report import html, junit, markdown, terminal
from grader.report.format import ordered_rules, points, points_of, submission_label, why_not_passed
from grader.rubric.engine import settle_report
from grader.spec.report import Failure, Report
from tests.report import FIXTURE_NAMES, load_fixture


def short(report: Report, width: int) -> str:
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=width, color_system=None))
    return buffer.getvalue()


def verbose(report: Report, width: int) -> str:
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=width, color_system=None), verbose=True)
    return buffer.getvalue()


def flat(text: str) -> str:
    """The terminal text without the panel's borders and line breaks: what it says, however it wrapped."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃┏┓┗┛━┡┩└┘┌┐├┤┼┳┻╇╋]", " ", text).split())


class Text(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._in_title = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in_title = tag == "title"

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        if self._in_title:
            self.title += data

    @property
    def text(self) -> str:
        return " ".join("".join(self.parts).split())


# --- the short terminal summary ---------------------------------------------------------------------------

@pytest.mark.parametrize("width", [80, 200])
@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_the_short_summary_holds_the_outcome_and_the_headline_figures(name: str, width: int) -> None:
    report = load_fixture(name)
    text = short(report, width)
    said = flat(text)
    assert report.verdict.label.upper() in said
    if report.status == "graded" and report.evaluated_on == "test":
        assert f"score {points(report.score)}/100" in said
        assert f"passes at {report.rubric.pass_mark:g}" in said
    for f in report.failures:
        assert " ".join(f.message.split()) in said, f.message
    for reason in why_not_passed(report):
        assert " ".join(reason.split()) in said
    for metric, value in report.metrics.items():
        assert re.search(rf"{re.escape(metric)} +{value:.3f}", said), metric
        if metric in report.metrics_ci:
            ci = report.metrics_ci[metric]
            assert f"{ci.low:.3f} – {ci.high:.3f}" in said
    if report.latency.measured:
        assert f"p50 {report.latency.p50_ms:.3f} ms" in said and f"p95 {report.latency.p95_ms:.3f} ms" in said
    assert "…" not in text, "a cut cell"
    assert max(len(line) for line in text.splitlines()) <= width


def test_the_short_summary_of_a_grading_is_short() -> None:
    for name in ("reference", "baseline", "crash"):
        lines = short(load_fixture(name), 80).splitlines()
        assert len(lines) < 30, (name, len(lines))
    assert len(short(load_fixture("reference"), 80).splitlines()) < len(verbose(load_fixture("reference"), 80)
                                                                         .splitlines()) / 4


def test_reproducibility_is_one_line_in_the_short_summary() -> None:
    report = load_fixture("reference")
    said = flat(short(report, 200))
    assert "reproducibility: 2 runs with seed 20261122, prediction agreement 1.0000" in said
    assert "artifacts identical: yes" in said
    assert "train s" not in said  # the table of runs is for --verbose


@pytest.mark.parametrize("width", [80, 200])
def test_verbose_shows_everything_else_without_cutting_a_cell(width: int) -> None:
    report = load_fixture("reference")
    text = verbose(report, width)
    said = flat(text)
    assert report.rubric is not None
    for section in report.rubric.sections:
        for c in section.criteria:
            assert c.id in said
            assert " ".join(c.explanation.split()).replace(" ", "") in said.replace(" ", ""), c.id
    for heading in ("Confusion matrix", "Latency (single item", "Reproducibility:", "Phases:", "Sandbox:",
                    "calibration: Brier"):
        assert heading in said, heading
    assert "…" not in text
    assert "…" not in short(report, width)
    assert "Confusion matrix" not in flat(short(report, width))


def test_the_short_summary_of_a_self_check_says_it_is_not_a_grade() -> None:
    said = flat(short(load_fixture("selfcheck"), 80))
    assert "SELF-CHECK" in said and "not a grade" in said and not re.search(r"score [\d.]+/100 \(passes", said)


# --- one rounding rule -------------------------------------------------------------------------------------

def test_points_have_one_rule() -> None:
    assert [points(v) for v in (9.9578, 14.0, 2.5, 89.74, 8.9987, 0.0, 0.004)] == \
        ["9.96", "14", "2.5", "89.74", "9", "0", "0"]
    assert points_of(9.9578, 14) == "9.96 / 14"


@pytest.mark.parametrize("name", ["reference", "reviewed", "baseline", "crash", "multiclass"])
def test_every_renderer_shows_the_same_points(name: str) -> None:
    """9.96 / 14 in the terminal, report.md, report.html and junit.xml: never 10.0/14.0 in one of them."""
    report = load_fixture(name)
    assert report.rubric is not None
    term = flat(verbose(report, 200))
    md = markdown.render(report)
    page = Text(html.render(report)).text
    xml = junit.render(report)
    for section in report.rubric.sections:
        shown = points_of(section.points, section.max_points)
        assert shown in term and shown in md and shown in page, (section.id, shown)
        for c in section.criteria:
            shown = points_of(c.points, c.max_points)
            assert shown in term and shown in md and shown in page, (c.id, shown)
            if c.points < c.max_points:
                assert f'message="{points(c.points)} of {points(c.max_points)} points' in xml, c.id
    score = points(report.score)
    assert f"score {score}/100" in term and f"score **{score}** / 100" in md
    assert re.search(rf"{re.escape(score)} ?/ 100", page)
    assert f'name="score" value="{score}"' in xml


def test_the_old_roundings_are_gone() -> None:
    """The precision criterion of the reference earned 9.9578 of 14: "10.0/14.0" was the terminal's, "9.96/14.00"
    the page's."""
    report = load_fixture("reference")
    term, page = flat(verbose(report, 200)), Text(html.render(report)).text
    assert "10.0/14.0" not in term and "9.96 / 14" in term
    assert "14.00" not in page and "9.96 / 14" in page


# --- the submission's name, not its hash -------------------------------------------------------------------

def test_without_a_candidate_the_page_is_titled_by_the_submission_name() -> None:
    report = load_fixture("reference")
    assert report.submission.candidate is None and report.submission.sha256
    page = Text(html.render(report))
    assert "reference" in page.title and report.submission.sha256[:12] not in page.title
    h1 = re.search(r"<h1>(.*?)</h1>", html.render(report), re.S)
    assert h1 is not None and h1.group(1) == "Submission reference"
    assert "submission reference" in flat(short(report, 80))


def test_an_archive_is_named_without_its_suffix_and_a_candidate_wins() -> None:
    report = load_fixture("reference")
    report.submission.path = "cohort/alice.tar.gz"
    assert submission_label(report) == "alice"
    assert "<h1>Submission alice</h1>" in html.render(report)
    report.submission.candidate = "Alice Example"
    assert submission_label(report) == "Alice Example" and "<h1>Alice Example</h1>" in html.render(report)
    report.submission.path, report.submission.candidate = None, None
    assert submission_label(report) == f"sha256 {report.submission.sha256[:12]}"


# --- the root cause before the total -----------------------------------------------------------------------

def _total_last(reasons: list[str]) -> None:
    total = [i for i, r in enumerate(reasons) if r.startswith("the total, ")]
    assert total == [len(reasons) - 1], reasons


@pytest.mark.parametrize("name", ["baseline", "crash", "multiclass"])
def test_the_root_cause_comes_before_the_total_in_every_renderer(name: str) -> None:
    report = load_fixture(name)
    settle_report(report)  # the reasons as today's rubric engine words them
    assert report.rubric is not None and report.rubric.not_passed_because[0].startswith("the total, ")
    reasons = why_not_passed(report)
    _total_last(reasons)
    cause, total = reasons[0], reasons[-1]
    texts = {"terminal": flat(short(report, 200)), "terminal --verbose": flat(verbose(report, 200)),
             "report.md": unescape(markdown.render(report).replace("\\", "")),
             "report.html": Text(html.render(report)).text}
    for where, text in texts.items():
        flat_cause, flat_total = " ".join(cause.split()), " ".join(total.split())
        assert flat_cause in text and flat_total in text, where
        assert text.index(flat_cause) < text.index(flat_total), where
    page = html.render(report)
    rows = re.findall(r"<tr><td>(.*?)</td><td class=\"num\">", page[page.index("pass-rule"):])
    assert rows.index(next(r for r in rows if r.startswith("rubric total"))) > 0  # a failed gate first
    xml = junit.render(report)
    assert xml.index("pass_rule: rubric total") > xml.index('value="not met"')


def test_a_crash_is_the_first_reason() -> None:
    report = load_fixture("crash")
    assert why_not_passed(report)[0].startswith("[train] crash: ")


def test_a_failure_of_a_report_without_rubric_comes_first_too() -> None:
    report = load_fixture("baseline").model_copy(update={"rubric": None})
    report.failures = [Failure(phase="predict", kind="timeout", message="prediction took too long")]
    reasons = why_not_passed(report)
    assert reasons[0] == "[predict] timeout: prediction took too long"
    assert reasons.index(next(r for r in reasons if r.startswith("rubric total"))) == len(reasons) - 1


def test_a_passed_report_keeps_its_rules_in_order_and_has_no_why() -> None:
    report = load_fixture("reference")
    assert why_not_passed(report) == [] and ordered_rules(report.pass_rule) == report.pass_rule


def test_the_short_summary_shows_the_end_of_a_failures_stderr() -> None:
    """A crash's message says its error output is "in the detail below": the short summary shows that end."""
    report = load_fixture("crash")
    said = short(report, 80)
    last = report.failures[0].detail.strip().splitlines()[-1]
    assert "end of [train] stderr:" in said and last in said.replace("\n", " ")
