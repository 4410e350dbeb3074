"""An integrity flag shows in every report format and in `grader compare`, and a report without one shows none."""

from __future__ import annotations

import io

from rich.console import Console

from grader.compare.table import Row, compare
from grader.report import html, junit, markdown, terminal
from tests.evaluate.test_integrity import lookup_predictions
from tests.report import load_fixture


def flagged():
    from grader.evaluate.integrity import check

    report, task = lookup_predictions("tabular/credit-default")
    report.integrity = check(task, report)
    assert report.integrity.flags
    return report


def test_every_renderer_shows_the_flag_and_its_evidence():
    report = flagged()
    evidence = report.integrity.flags[0].evidence[0]
    assert "### Integrity" in markdown.render(report) and evidence in markdown.render(report)
    page = html.render(report)
    assert 'id="integrity"' in page and "implausible_score" in page and "for a person to review" in page
    assert 'name="integrity flag 1" value="implausible_score (high, needs review)' in junit.render(report)
    buffer = io.StringIO()
    terminal.render(report, Console(file=buffer, width=200))
    assert "integrity flag (high), for a person to review" in buffer.getvalue()


def test_no_flag_no_section():
    report = load_fixture("reference")
    assert "Integrity" not in markdown.render(report) and 'id="integrity"' not in html.render(report)
    assert "integrity flag" not in junit.render(report)


def test_compare_marks_the_flagged_candidate():
    rows = [Row.from_report(flagged(), "out/mallory", "mallory"), Row.from_report(load_fixture("reference"),
                                                                                 "out/alice", "alice")]
    table = compare(rows)
    assert "integrity" in [c.key for c in table.columns]
    marks = {v["candidate"]: v["integrity"] for v in table.values}
    assert marks == {"mallory": "implausible_score (high)", "alice": "-"}
    assert "integrity" not in [c.key for c in compare([rows[1]]).columns]
