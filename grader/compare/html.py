"""The comparison as one self-contained HTML page: no network, sortable by clicking any column header.

Candidate-controlled text (names, reasons) reaches the page only through Jinja2's autoescaping and
``data-`` attributes, never inside the script, so a candidate's folder name cannot run code in an
interviewer's browser; the link to each candidate's report is a relative path, percent-encoded, so a
folder named ``javascript:...`` stays a path.

The page fits a 1280 px window: the table scrolls sideways inside its own box, never the page.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote

import jinja2

from grader.compare.noise import LEGEND, WITHIN_NOISE, folder_of, mark
from grader.compare.table import Comparison, Row, cell_text, sort_names
from grader.report.write import HTML_FILE, REPORT_FILE
from grader.spec.similarity import SimilarityReport

#: What a candidate's name links to, the first that exists in its report folder.
LINKED = (HTML_FILE, REPORT_FILE)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("grader", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _cells(comparison: Comparison, index: int) -> list[dict[str, str]]:
    row, values = comparison.rows[index], comparison.values[index]
    cells = []
    for column in comparison.columns:
        value = values.get(column.key)
        if column.key == "status" and row.unreadable:
            value = f"unreadable: {row.unreadable}"
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is None:
            sort = ""
        elif isinstance(value, bool) or not isinstance(value, int | float):
            sort = cell_text(value, column)
        else:
            sort = repr(float(value))
        classes = ["num"] if column.higher_is_better is not None else []
        if number and value == comparison.best(column.key):
            classes.append("best")
        if isinstance(value, bool):
            classes.append("yes" if value else "no")
        marked = mark(comparison, index, column.key)
        diff = comparison.differences[index].get(column.key) if comparison.differences else None
        title = "" if diff is None or diff.delta is None else (
            f"{diff.delta:+.4f} against the best, 95% paired interval {diff.low} to {diff.high}")
        if marked:
            classes.append("noise" if marked == WITHIN_NOISE else "behind")
        cells.append({"key": column.key, "text": cell_text(value, column), "sort": sort, "classes": " ".join(classes),
                      "mark": marked, "title": title})
    return cells


def link(row: Row, page_dir: Path) -> str | None:
    """The row's report (report.html, else report.json) as a URL relative to ``page_dir``, where the page
    is written; None when the folder has neither."""
    folder = folder_of(row)
    target = next((folder / name for name in LINKED if (folder / name).is_file()), None)
    if target is None:
        return None
    return quote(Path(os.path.relpath(target.resolve(), page_dir.resolve())).as_posix())


def render(comparison: Comparison, similarity: SimilarityReport | None = None, *,
           page_dir: Path | None = None) -> str:
    """The page; with ``similarity`` (``grader batch``'s cohort.html), also the cohort's flagged pairs. With
    ``page_dir`` (the folder the page is written to), each candidate's name links to its report."""
    table = [{"source": row.source, "unreadable": row.unreadable, "cells": _cells(comparison, i),
              "link": link(row, page_dir) if page_dir is not None else None}
             for i, row in enumerate(comparison.rows)]
    sort_key = sort_names(comparison.columns)[comparison.sort].key
    return _environment().get_template("compare/table.html.j2").render(
        task=comparison.task, columns=comparison.columns, rows=comparison.rows, table=table,
        sort=comparison.sort, sort_key=sort_key, legend=LEGEND if any(comparison.differences) else "",
        noise_notes=comparison.noise_notes, similarity=similarity)
