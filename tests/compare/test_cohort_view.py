"""The interviewer's cohort view: nine candidates as rows in an 80-column terminal without a broken cell,
the HTML page inside a 1280 px window with each name linked to its report (in a real headless chromium),
and reports whose task was never read shown as marked rows instead of refusing the cohort."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from rich.console import Console

from grader.cli import main
from grader.compare.html import render as render_html
from grader.compare.table import CompareError, compare, load_rows
from grader.compare.terminal import layout, render
from grader.report.write import write_reports
from tests.report import fixture_json, fixture_path, load_fixture

#: Nine candidates of the credit task, each fixture with a name of its own (some long, one with spaces).
NINE = {"ada-lovelace": "reference", "bob": "baseline", "carol-crash": "crash", "dan": "invalid",
        "eve-infra": "error", "grace": "reviewed", "heidi": "selfcheck", "ivan-the-very-long-named": "reference",
        "judy": "baseline"}


@pytest.fixture()
def nine(tmp_path) -> list[Path]:
    """Nine report folders as `grader grade --out` leaves them (report.json and report.html)."""
    folders = []
    for name, fixture in NINE.items():
        folder = tmp_path / "out" / name
        report = load_fixture(fixture)
        report.submission.candidate = None if fixture == "reviewed" else name
        write_reports(report, folder)
        folders.append(folder)
    return folders


def printed(table, width: int) -> str:
    console = Console(width=width, record=True, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    render(table, console)
    return console.export_text()


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1] in "┃│"]


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"[┃│]", line)[1:-1]]


@pytest.mark.parametrize("width", [80, 200])
def test_nine_candidates_are_rows_and_no_cell_breaks(nine, width):
    table = compare(load_rows(nine))
    text = printed(table, width)
    lines = table_lines(text)
    assert all(len(line) <= width for line in text.splitlines())
    header = cells(lines[0])
    assert header[:3] == ["candidate", "verdict", "score ↑"]  # candidates are rows, figures columns
    shown = layout(table, width).shown
    body = [cells(line) for line in lines[1:]]
    # Every figure cell is whole: the exact text of some candidate's value, on one line.
    for col, column in enumerate(shown):
        if column.key in ("candidate",):
            continue
        expected = {c for c in (r[col] for r in body) if c}
        from grader.compare.table import cell_text

        whole = {cell_text(v.get(column.key), column) for v in table.values} | {"passed", "not passed", "invalid",
                                                                               "error", "self-check"}
        assert expected <= whole, (column.key, expected - whole)
    # Names wrap only between words: the words of each name appear whole, in order.
    names = " ".join(c[0] for c in body if c[0])
    for name in (v["candidate"] for v in table.values):
        assert all(word in names.split() for word in name.split()), name
    scores = [r[2] for r in body if r[2]]
    assert len(scores) == 9


def test_at_80_columns_the_left_out_columns_are_named_with_how_to_see_them(nine):
    table = compare(load_rows(nine))
    narrow, wide = layout(table, 80), layout(table, 200)
    assert [c.key for c in narrow.shown][:3] == ["candidate", "verdict", "score"]
    assert "recall" in [c.key for c in narrow.shown]  # a metric beats rubric sections
    assert narrow.left_out and set(narrow.left_out) > set(wide.left_out)
    text = " ".join(printed(table, 80).split())
    assert "Left out for width (80 columns):" in text and "model-quality" in text and "--html FILE" in text
    assert "p95 ms ↓" in printed(table, 200)  # latency shows when the width allows


def test_nothing_is_left_out_when_everything_fits(nine):
    table = compare(load_rows(nine[:2]))
    assert layout(table, 1000).left_out == [] and "Left out" not in printed(table, 1000)


# -- a task never read is a row, not the end of the cohort -----------------------------------------------

def unknown_task(tmp_path: Path, name: str = "rejected") -> Path:
    data = fixture_json("invalid")
    data["task"] = {"id": "unknown", "version": None}
    folder = tmp_path / "out" / name
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(data))
    return folder


def test_a_report_of_task_unknown_is_a_marked_row(nine, tmp_path):
    table = compare(load_rows([*nine, unknown_task(tmp_path)]))
    assert table.task == "tabular/credit-default" and len(table.rows) == 10
    row = next(r for r in table.rows if Path(r.source).name == "rejected")
    assert row.unreadable.startswith("not compared, its task is unknown") and "invalid" in row.unreadable
    assert "unreadable" in printed(table, 200)


def test_a_task_named_but_never_read_is_a_marked_row(nine, tmp_path):
    data = fixture_json("invalid")
    data["task"] = {"id": "tabular/credit-defualt", "version": None}  # a typo in submission.yaml
    (tmp_path / "typo.json").write_text(json.dumps(data))
    table = compare(load_rows([*nine, tmp_path / "typo.json"]))
    row = next(r for r in table.rows if r.source.endswith("typo.json"))
    assert "its task 'tabular/credit-defualt' could not be read" in row.unreadable


def test_cli_shows_the_cohort_with_the_unknown_row_and_exits_1(nine, tmp_path):
    result = CliRunner().invoke(main, ["compare", *map(str, nine), str(unknown_task(tmp_path))],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "Candidates for tabular/credit-default" in result.output and "its task is unknown" in result.output


def test_two_real_tasks_are_still_refused(nine):
    with pytest.raises(CompareError, match="different tasks"):
        compare(load_rows([*nine, fixture_path("multiclass")]))


# -- HTML: links, and a page that fits 1280 px ------------------------------------------------------------

def test_each_name_links_to_its_report_relative_to_the_page(nine, tmp_path):
    page_dir = tmp_path / "pages" / "deep"
    table = compare(load_rows([*nine, tmp_path / "missing"]))
    page = render_html(table, page_dir=page_dir)
    links = re.findall(r'<a href="([^"]+)">', page)
    assert len(links) == 9  # the missing report has nothing to link to
    for href in links:
        assert not href.startswith(("/", "javascript:")) and (page_dir / unquote(href)).resolve().is_file()
    assert "<a href" not in render_html(table)  # no page folder given: no links


def test_a_hostile_folder_name_stays_a_path(tmp_path):
    folder = tmp_path / "javascript:alert(1)"
    write_reports(load_fixture("reference"), folder)
    page = render_html(compare(load_rows([folder])), page_dir=tmp_path)
    assert 'href="javascript%3Aalert%281%29/report.html"' in page


@pytest.mark.browser
def test_the_page_fits_1280_px_and_every_link_opens_a_report(nine, tmp_path, chromium):
    many = [*nine]
    for i, folder in enumerate(nine):  # eighteen candidates, wide names and every column
        copy = folder.parent / f"{folder.name}-second-attempt-with-a-longer-folder-name-{i}"
        shutil.copytree(folder, copy)
        many.append(copy)
    out = tmp_path / "site" / "compare.html"
    result = CliRunner().invoke(main, ["compare", *map(str, many), "--html", str(out), "--sort", "recall"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(out.as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        box = page.evaluate("(() => { const b = document.getElementById('candidates-box');"
                            " return [b.scrollWidth, b.clientWidth, getComputedStyle(b).overflowX]; })()")
        assert box[2] == "auto" and box[0] > box[1]  # the table is wider than the window: its box scrolls
        hrefs = page.eval_on_selector_all("#candidates a", "as => as.map(a => a.href)")
        assert len(hrefs) == len(many)
        for href in hrefs:
            assert href.startswith("file://") and Path(unquote(href.removeprefix("file://"))).is_file()
        with page.expect_navigation():
            page.click("#candidates tbody tr:first-child a")
        assert page.url.endswith("/report.html") and page.title()
    finally:
        context.close()


@pytest.mark.browser
def test_the_cohort_page_fits_too(nine, tmp_path, chromium):
    from grader.compare.cohort import HTML_FILE, write_cohort
    from grader.spec.cohort import Cohort

    out = nine[0].parent
    entries = [{"name": f.name, "path": str(f), "status": "graded", "outcome": "passed", "passed": True,
                "score": 1.0, "report": f"{f.name}/report.json", "resumed": False} for f in nine]
    cohort = Cohort.model_validate({"batch_id": "b1", "grader_version": "0", "started_at": "2026-01-01T00:00:00+00:00",
                                    "workers": 1, "submissions": entries})
    write_cohort(cohort, out)
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto((out / HTML_FILE).as_uri())
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        hrefs = page.eval_on_selector_all("#candidates a", "as => as.map(a => a.href)")
        assert len(hrefs) == 9 and all(Path(unquote(h.removeprefix("file://"))).is_file() for h in hrefs)
    finally:
        context.close()
