"""``grader compare``: real reports of one task side by side, sorted the right way for each figure,
unreadable reports as rows saying why, other tasks refused, and the HTML table sortable in a browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.compare.html import render as render_html
from grader.compare.table import CompareError, Comparison, Row, cell_text, compare, load_rows
from grader.evaluate.figures import get_figure
from tests.report import fixture_json, fixture_path, load_fixture

CREDIT = ["reference", "baseline", "crash", "invalid", "error", "reviewed"]


@pytest.fixture()
def report_dirs(tmp_path) -> list[Path]:
    """The credit-task fixtures as report folders, the way `grader grade --out` leaves them."""
    dirs = []
    for name in CREDIT:
        folder = tmp_path / "out" / name
        folder.mkdir(parents=True)
        shutil.copy(fixture_path(name), folder / "report.json")
        dirs.append(folder)
    return dirs


def column_keys(table: Comparison) -> list[str]:
    return [c.key for c in table.columns]


def column(table: Comparison, key: str) -> list:
    return [values.get(key) for values in table.values]


def ordered(values: list, higher_is_better: bool) -> bool:
    """Best first, then the rows without a value."""
    present = [v for v in values if v is not None]
    assert values[:len(present)] == present, values  # missing values last
    return present == sorted(present, reverse=higher_is_better)


def by_source(table: Comparison, folder: str) -> dict:
    return next(v for row, v in zip(table.rows, table.values, strict=True) if Path(row.source).name == folder)


def test_sorted_by_score_best_first(report_dirs):
    table = compare(load_rows(report_dirs))
    scores = column(table, "score")
    assert ordered(scores, True) and len(set(scores)) > 2
    assert table.values[0]["score"] == fixture_json("reference")["score"] and table.task == "tabular/credit-default"


def test_same_candidate_twice_is_told_apart_by_folder(report_dirs):
    names = column(compare(load_rows(report_dirs)), "candidate")
    assert {"baseline (baseline)", "baseline (error)"} <= set(names)  # the baseline, graded with no engine too
    assert {"reference", "Grace | <Hopper>", "crash-in-train", "unpinned"} <= set(names)  # one each


@pytest.mark.parametrize("figure", ["recall", "precision", "latency.p95_ms", "latency.p50_ms",
                                    "reproducibility.prediction_agreement"])
def test_each_figure_sorts_in_its_better_direction(report_dirs, figure):
    table = compare(load_rows(report_dirs), sort=figure)
    better = get_figure(figure).higher_is_better
    values = column(table, figure)
    assert ordered(values, better) and len([v for v in values if v is not None]) >= 2
    assert next(c for c in table.columns if c.key == figure).higher_is_better is better


def test_lower_latency_comes_first(report_dirs):
    table = compare(load_rows(report_dirs), sort="latency.p95_ms")
    assert table.values[0] == by_source(table, "baseline")  # a constant predictor answers faster than a model
    assert table.values[0]["latency.p95_ms"] < table.values[1]["latency.p95_ms"]


def test_section_points_and_unshown_figures_sort_too(report_dirs):
    table = compare(load_rows(report_dirs), sort="production-thinking")
    assert ordered(column(table, "section:production-thinking"), True)
    table = compare(load_rows(report_dirs), sort="latency.p99_ms")
    assert table.columns[-1].key == "latency.p99_ms" and ordered(column(table, "latency.p99_ms"), False)


def test_rows_carry_every_figure(report_dirs):
    table = compare(load_rows(report_dirs))
    reference = fixture_json("reference")
    row = by_source(table, "reference")
    assert row["status"] == "graded" and row["passed"] is True and row["score"] == reference["score"]
    for name, value in reference["metrics"].items():
        assert row[name] == value
    for section in reference["rubric"]["sections"]:
        assert row[f"section:{section['id']}"] == section["points"]
    assert row["latency.p50_ms"] == reference["latency"]["p50_ms"]
    assert row["reproducibility.prediction_agreement"] == reference["reproducibility"]["prediction_agreement"]


def test_figure_columns_are_titled_and_rounded_as_the_registry_says(report_dirs):
    table = compare(load_rows(report_dirs), sort="reproducibility.max_metric_diff")
    figures = [c for c in table.columns if c.higher_is_better is not None and c.key != "score"
               and not c.key.startswith("section:")]
    assert {"recall", "latency.p95_ms", "reproducibility.max_metric_diff"} <= {c.key for c in figures}
    for c in figures:
        figure = get_figure(c.key)
        assert (c.title, c.digits, c.higher_is_better) == (figure.title or c.key, figure.digits,
                                                           figure.higher_is_better), c.key
    diff = next(c for c in figures if c.key == "reproducibility.max_metric_diff")
    assert cell_text(0.00012, diff) == "0.0001"  # a metric's scale: as many decimals as the metrics


def test_a_metric_this_grader_does_not_know_is_still_a_column(tmp_path):
    data = fixture_json("reference")
    data["metrics"]["made_up_metric"] = 0.5
    (tmp_path / "report.json").write_text(json.dumps(data))
    table = compare(load_rows([tmp_path]), sort="made_up_metric")
    made_up = next(c for c in table.columns if c.key == "made_up_metric")
    assert made_up.higher_is_better is True and table.values[0]["made_up_metric"] == 0.5


def test_unknown_sort_says_did_you_mean(report_dirs):
    with pytest.raises(CompareError) as err:
        compare(load_rows(report_dirs), sort="recal")
    assert err.value.hint == "did you mean 'recall'?" and err.value.exit_code == 2


def test_reports_of_other_tasks_are_refused_by_name(report_dirs):
    cv = report_dirs[0].parent / "fashion"
    cv.mkdir()
    shutil.copy(fixture_path("multiclass"), cv / "report.json")
    with pytest.raises(CompareError) as err:
        compare(load_rows([*report_dirs[:2], cv]))
    message = err.value.message
    assert "cv/fashion-mnist: baseline (fashion)" in message
    assert "tabular/credit-default: reference, baseline (baseline)" in message


def test_unreadable_reports_are_rows_saying_why(report_dirs, tmp_path):
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"status": "graded", "task": {"id": "x"}, "score": "high"}))
    (tmp_path / "empty").mkdir()
    sources = [*report_dirs[:2], tmp_path / "garbage.json", tmp_path / "missing", tmp_path / "other.json",
               tmp_path / "empty"]
    table = compare(load_rows(sources))
    reasons = {row.source: row.unreadable for row in table.rows if row.unreadable}
    assert "Invalid JSON" in reasons[str(tmp_path / "garbage.json")]
    assert "No such file" in reasons[str(tmp_path / "missing")]
    assert "score" in reasons[str(tmp_path / "other.json")]
    assert "report.json: No such file" in reasons[str(tmp_path / "empty")]
    assert [row.unreadable is None for row in table.rows] == [True, True, False, False, False, False]
    assert column(table, "status")[2:] == ["unreadable"] * 4


def test_candidate_named_by_the_grader_else_by_the_submission(tmp_path):
    named = fixture_json("baseline")
    named["submission"]["candidate"] = "Jane Doe"
    (tmp_path / "jane.json").write_text(json.dumps(named))
    table = compare(load_rows([fixture_path("reference"), tmp_path / "jane.json", fixture_path("crash")]))
    assert column(table, "candidate") == ["reference", "Jane Doe", "crash-in-train"]
    assert "tags" not in column_keys(table)


def test_rows_from_another_source_keep_their_tags():
    rows = [Row.from_report(load_fixture("reference"), "mlflow:run-1", tags={"round": "2"}),
            Row.from_report(load_fixture("baseline"), "mlflow:run-2", candidate="Bob")]
    table = compare(rows)
    assert column(table, "candidate") == ["reference", "Bob"] and column(table, "tags") == ["round=2", ""]


def test_self_checks_are_not_shown_as_grades():
    table = compare(load_rows([fixture_path("selfcheck"), fixture_path("baseline")]))
    assert sorted(column(table, "status")) == ["graded", "self-check"]


def test_html_has_every_candidate_and_needs_no_network(report_dirs, tmp_path):
    hostile = fixture_json("baseline")
    hostile["submission"]["path"] = "x/<img src=y onerror=alert(1)>"
    (tmp_path / "hostile.json").write_text(json.dumps(hostile))
    table = compare(load_rows([*report_dirs, tmp_path / "hostile.json", tmp_path / "missing"]), sort="recall")
    page = render_html(table, page_dir=tmp_path)
    cells = CellParser.cells(page)
    assert len(cells) == len(table.rows)
    assert [row[0] for row in cells] == column(table, "candidate")
    parser = CellParser()
    parser.feed(page)
    assert parser.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "p", "div", "table", "thead",
                           "tbody", "tr", "th", "td", "button", "a", "script"}  # no img, iframe: the name stayed text
    assert not parser.attributes & {"src", "onerror", "onclick"} and "&lt;img src=y" in page
    # The only links: each report folder's own report, relative to the page.
    assert re.findall(r'href="([^"]+)"', page) == [f"out/{Path(r.source).name}/report.json" for r in table.rows
                                                   if Path(r.source).parent.name == "out"]
    assert not re.search(r"@import|url\(|https?://", page)
    headers = re.findall(r'<th data-kind="(\w+)"\s+data-higher="(\d?)"', page)
    assert len(headers) == len(table.columns)
    assert dict(zip([c.key for c in table.columns], headers, strict=True))["latency.p95_ms"] == ("num", "0")
    assert 'aria-sort="descending"' in page  # the table opens sorted by recall, best first


def test_html_sorts_by_clicking_a_header(report_dirs, tmp_path):
    chromium = os.environ.get("GRADER_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("no chromium (scripts/test-tools.sh installs it); CI=true, so this test must run")
        pytest.skip("no chromium: run scripts/test-tools.sh")
    from playwright.sync_api import sync_playwright

    table = compare(load_rows(report_dirs))
    page_file = tmp_path / "compare.html"
    page_file.write_text(render_html(table), encoding="utf-8")
    keys = [c.key for c in table.columns]
    by = {key: sorted(v[key] for v in table.values if v.get(key) is not None) for key in keys}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())

            def shown(key: str) -> list[str]:
                i = keys.index(key)
                return page.eval_on_selector_all("tbody tr", f"rs => rs.map(r => r.cells[{i}].textContent)")

            def click(key: str) -> None:
                page.click(f"thead th:nth-child({keys.index(key) + 1}) button")

            click("latency.p95_ms")  # lower is better: smallest first
            assert shown("latency.p95_ms")[:len(by["latency.p95_ms"])] == [f"{v:.3f}" for v in by["latency.p95_ms"]]
            click("latency.p95_ms")  # again: reversed
            assert shown("latency.p95_ms")[:len(by["latency.p95_ms"])] == [
                f"{v:.3f}" for v in reversed(by["latency.p95_ms"])]
            click("recall")  # higher is better: largest first
            assert shown("recall")[:len(by["recall"])] == [f"{v:.4f}" for v in reversed(by["recall"])]
            assert shown("recall")[len(by["recall"]):] == ["n/a"] * (len(table.rows) - len(by["recall"]))
            click("candidate")
            assert shown("candidate") == sorted(column(table, "candidate"), key=str.lower)
        finally:
            browser.close()


class CellParser(HTMLParser):
    """The text of every body cell, row by row, and every tag and attribute name of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.body = self.cell = False
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    @classmethod
    def cells(cls, page: str) -> list[list[str]]:
        parser = cls()
        parser.feed(page)
        return parser.rows

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        if tag == "tbody":
            self.body = True
        elif self.body and tag == "tr":
            self.rows.append([])
        elif self.body and tag == "td":
            self.cell = True
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        self.cell = self.cell and tag != "td"
        self.body = self.body and tag != "tbody"

    def handle_data(self, data):
        if self.cell:
            self.rows[-1][-1] += data


def invoke(*args: str):
    return CliRunner().invoke(main, ["compare", *args], env={"COLUMNS": "200"})


def test_cli_exit_codes_and_outputs(report_dirs, tmp_path):
    result = invoke(*map(str, report_dirs), "--html", str(tmp_path / "t.html"))
    assert result.exit_code == 0, result.output
    assert "Candidates for tabular/credit-default, by score" in result.output
    assert all(name in result.output for name in ("reference", "baseline", "crash-in-train", "unpinned"))
    assert (tmp_path / "t.html").is_file()

    result = invoke(*map(str, report_dirs), str(tmp_path / "missing"))
    assert result.exit_code == 1 and "unreadable" in result.output and "No such file" in result.output

    result = invoke(str(report_dirs[0]), str(fixture_path("multiclass")))
    assert result.exit_code == 2 and "different tasks" in result.output

    result = invoke(str(report_dirs[0]), "--sort", "latency.p50ms")
    assert result.exit_code == 2 and "did you mean 'latency.p50_ms'" in result.output

    assert invoke().exit_code == 2


def test_cli_json(report_dirs):
    result = invoke(*map(str, report_dirs), "--json", "--sort", "recall")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["task"] == "tabular/credit-default" and data["sort"] == "recall"
    assert len(data["rows"]) == len(report_dirs)
    recalls = [row.get("recall") for row in data["rows"]]
    assert ordered(recalls, True)
