"""report.md: golden files for every real report, the verdict first, and candidate text that cannot
break a table or inject HTML.

The rendered Markdown is parsed with markdown-it (CommonMark + GFM tables, raw HTML on, as GitHub
does before sanitising), so the checks are on what a reader sees, not on substrings.

Golden files: ``tests/report/golden/<fixture>.md``. After an intended change of the renderer,
rewrite them with ``GRADER_UPDATE_GOLDEN=1 python -m pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt

from grader.report.format import points, points_of
from grader.report.markdown import MARKER, cell, fenced, inline, render
from grader.spec.report import Report
from tests.report import fixture_json, load_fixture

#: The HTML elements report.md may produce; anything else came from unescaped text.
ALLOWED_TAGS = {"p", "h2", "h3", "h4", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong", "em",
                "code", "pre", "details", "summary", "sub", "br", "blockquote"}
HOSTILE = "evil | cell\nnext line <img src=x onerror=alert(1)> [link](http://x.test) ![i](http://x.test/i.png) `c` $x$"


def to_html(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)


def tags(html: str) -> set[str]:
    return set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))


def tables(html: str) -> list[list[list[str]]]:
    """Every table as rows of cells (header row first)."""
    found = []
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)
        found.append([re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S) for row in rows])
    return found


def test_golden(named_report, golden):
    name, report = named_report
    text = render(report)
    assert text == render(report)  # deterministic
    golden(f"{name}.md", text)


def test_only_expected_html_and_well_formed_tables(named_report):
    _, report = named_report
    html = to_html(render(report))
    assert tags(html) <= ALLOWED_TAGS
    for table in tables(html):
        assert len({len(row) for row in table}) == 1, table  # no row has more or fewer cells than the header


def test_verdict_comes_first():
    for name, verdict in (("reference", "PASSED"), ("baseline", "NOT PASSED"), ("crash", "NOT PASSED"),
                          ("invalid", "INVALID SUBMISSION"), ("error", "GRADER ERROR"),
                          ("selfcheck", "SELF-CHECK")):
        report = load_fixture(name)
        lines = [line for line in render(report).splitlines() if line]
        assert lines[0] == MARKER
        assert lines[1].startswith("## Grader report:") and report.task.id in lines[1]
        assert f"**{verdict}" in lines[2], (name, lines[2])
        if report.status == "graded" and report.evaluated_on == "test":
            assert f"score **{points(report.score)}** / 100 (passes at {report.rubric.pass_mark:g})" in lines[2]


def test_why_it_did_not_pass_lists_every_reason():
    report = load_fixture("baseline")
    text = render(report)
    why = text.split("### Why it did not pass", 1)[1].split("###", 1)[0]
    assert report.rubric.not_passed_because
    for reason in report.rubric.not_passed_because:
        assert inline(reason) in why
    assert "Why it did not pass" not in render(load_fixture("reference"))


def test_failure_shows_its_stderr_tail_verbatim_in_a_code_block():
    report = load_fixture("crash")
    failure = report.failures[0]
    assert failure.phase == "train" and "<script>" in failure.detail  # the candidate's hostile stderr
    html = to_html(render(report))
    assert "<details><summary>stderr tail" in html
    block = re.search(r"<pre><code[^>]*>(.*?)</code></pre>", html, re.S).group(1)
    assert "RuntimeError: boom in training | &lt;script&gt;alert(1)&lt;/script&gt;" in block
    assert "<script" not in html


def test_rubric_table_per_section_with_every_criterion():
    report = load_fixture("reference")
    html = to_html(render(report))
    found = tables(html)
    sections = report.rubric.sections
    rubric_tables = found[:len(sections)]
    for section, table in zip(sections, rubric_tables, strict=True):
        assert table[0] == ["criterion", "points", "why"]
        assert [re.sub(r"<.*?>|\s*\(required\)", "", row[0]) for row in table[1:]] == [c.id for c in section.criteria]
        for c, row in zip(section.criteria, table[1:], strict=True):
            assert row[1] == points_of(c.points, c.max_points)


def test_reviewed_points_shown_beside_automatic_ones():
    report = load_fixture("reviewed")
    reviewed = [c for s in report.rubric.sections for c in s.criteria if c.review is not None]
    assert reviewed and any(c.points != c.automatic_points for c in reviewed)
    html = to_html(render(report))
    rows = [row for table in tables(html) for row in table]
    for c in reviewed:
        row = next(r for r in rows if re.sub(r"<.*?>", "", r[0]) == c.id)
        assert points_of(c.points, c.max_points) in row[1] and f"automatic {points(c.automatic_points)}" in row[1]
        assert f"Reviewed by {c.review.reviewer}" in row[2]
    assert f"{points(report.rubric.automatic_total)} before interviewers' reviews" in html
    assert report.submission.candidate and f"Submission by **{inline(report.submission.candidate)}**:" in render(report)


def test_multiclass_has_a_per_class_table():
    report = load_fixture("multiclass")
    assert len(report.per_class) == 10
    per_class = next(t for t in tables(to_html(render(report))) if t[0][0] == "class")
    assert [row[0] for row in per_class[1:]] == [inline(name).replace("&amp;", "&") for name in report.per_class]
    assert "### Per class" not in render(load_fixture("reference"))  # binary: the metrics say it all


def test_latency_and_reproducibility_summaries():
    report = load_fixture("reference")
    lat = report.latency
    latency = next(t for t in tables(to_html(render(report))) if t[0][1:] == ["p50 ms", "p95 ms", "p99 ms"])
    assert latency[1] == ["model", f"{lat.p50_ms:,.3f}", f"{lat.p95_ms:,.3f}", f"{lat.p99_ms:,.3f}"]
    assert latency[2][0] == "floor (no-op predictor)" and latency[2][1] == f"{lat.floor.p50_ms:,.3f}"
    text = render(report)
    assert f"Cold start {lat.cold_start_ms:,.1f} ms" in text
    assert f"prediction agreement {report.reproducibility.prediction_agreement:.4f}" in text


def test_self_check_banner_only_on_the_validation_split():
    check = render(load_fixture("selfcheck"))
    assert "Self-check on the public validation split" in check and "score **" not in check
    assert "Metrics on the public validation split" in check
    assert "Self-check" not in render(load_fixture("reference"))


def test_invalid_submission_lists_each_problem():
    report = load_fixture("invalid")
    assert report.status == "invalid" and len(report.failures) >= 2
    text = render(report)
    for failure in report.failures:
        assert inline(failure.message) in text
    assert "### Rubric" not in text


@pytest.mark.parametrize("render_text", [inline, cell])
def test_hostile_text_stays_text(render_text):
    markdown = f"| a | b |\n| --- | --- |\n| {render_text(HOSTILE)} | x |\n"
    html = to_html(markdown)
    assert tags(html) <= ALLOWED_TAGS - {"code"}  # no img, no a, no code span from the backticks
    assert tables(html)[0][1][1] == "x"  # the pipe did not open a third cell
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "$x$" in html


def test_fence_outlasts_backticks_in_the_text():
    text = "before\n````\n```\nafter"
    html = to_html(fenced(text))
    assert html.count("<pre>") == 1 and "after" in html.split("</pre>")[0]


def test_a_long_stderr_keeps_its_end_within_a_comment_budget():
    raw = fixture_json("crash")
    raw["failures"][0]["detail"] = "\n".join(f"line {i} " + "x" * 200 for i in range(500)) + "\nthe real error"
    text = render(Report.model_validate(raw))
    block = re.search(r"```text\n(.*?)\n\s*```", text, re.S).group(1)
    assert block.rstrip().endswith("the real error") and "line 0 " not in block and len(block) < 4500
