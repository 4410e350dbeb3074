"""The comparison in the terminal (rich): one row per candidate, one column per figure.

A cohort grows downwards (nine candidates are nine rows), so only the figures have to fit the width.
No cell is ever squeezed until it breaks: the columns are taken by priority (candidate, score, verdict,
the sort figure, integrity flags, then each metric with its noise mark, latency, agreement, tags and
the rubric sections) while their natural width fits, and the table says which were left out and how to
see them (a wider terminal, ``--html`` or ``--json``).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.compare.noise import LEGEND, WITHIN_NOISE, mark
from grader.compare.table import Column, Comparison, cell_text

#: The candidate column's widest: a longer name wraps between its words (a single word longer than this
#: ends in "…"; ``--json`` and ``--html`` have it whole).
NAME_WIDTH = 24
#: The terminal's own column: status and passed read as one word.
VERDICT = Column("verdict", "verdict")


@dataclass(frozen=True)
class Layout:
    """The columns shown, in the table's order, and the titles of those left out for want of width."""

    shown: list[Column]
    left_out: list[str]


def verdict(comparison: Comparison, index: int) -> str:
    """passed, not passed, invalid, error, self-check, or unreadable (not compared)."""
    row = comparison.rows[index]
    if row.report is None or row.unreadable:
        return "unreadable"
    v = row.report.verdict
    return "self-check" if v.self_check else v.outcome.replace("_", " ")


def _text(comparison: Comparison, index: int, column: Column) -> str:
    """The cell as plain text, noise mark included (what its width is measured on)."""
    if column.key == VERDICT.key:
        return verdict(comparison, index)
    text = cell_text(comparison.values[index].get(column.key), column)
    marked = mark(comparison, index, column.key)
    return f"{text} {marked}" if marked else text


def _cell(comparison: Comparison, index: int, column: Column) -> str:
    value = comparison.values[index].get(column.key)
    row = comparison.rows[index]
    plain = _text(comparison, index, column)
    marked = mark(comparison, index, column.key)
    if marked:
        text = escape(plain.removesuffix(f" {marked}"))
        return f"{text} [cyan]{marked}[/]" if marked == WITHIN_NOISE else f"{text} [dim]{marked}[/]"
    text = escape(plain)
    if column.higher_is_better is not None and value is not None and value == comparison.best(column.key):
        return f"[bold green]{text}[/]"
    if column.key == VERDICT.key:
        style = {"passed": "green", "not passed": "red", "invalid": "red", "error": "magenta"}.get(plain, "yellow")
        return f"[{style}]{text}[/]"
    return f"[yellow]{text}[/]" if row.unreadable else text


def _arrow(column: Column) -> str:
    return "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")


def _columns(comparison: Comparison) -> list[Column]:
    """The table's columns for the terminal: status and passed merged into the verdict."""
    merged: list[Column] = []
    for column in comparison.columns:
        if column.key == "status":
            merged.append(VERDICT)
        elif column.key != "passed":
            merged.append(column)
    return merged


def _priority(column: Column, sort_key: str) -> int:
    """Lower is kept first when the width runs short."""
    key = column.key
    fixed = {"candidate": 0, "score": 1, VERDICT.key: 2, "integrity": 4}
    if key in fixed:
        return fixed[key]
    if key == sort_key:
        return 3
    if key.startswith("section:"):
        return 9
    if key == "tags":
        return 8
    if key.startswith("latency."):
        return 6
    if key.startswith("reproducibility."):
        return 7
    return 5  # a metric


def _width(comparison: Comparison, column: Column) -> int:
    """The column's natural width: its title or its widest cell, whichever is wider."""
    cells = [cell_len(_text(comparison, i, column)) for i in range(len(comparison.rows))]
    natural = max([cell_len(column.title + _arrow(column)), *cells])
    return min(natural, NAME_WIDTH) if column.key == "candidate" else natural


def layout(comparison: Comparison, width: int) -> Layout:
    """Which columns fit ``width`` whole, by priority; the table keeps their order."""
    from grader.compare.table import sort_names

    sorted_by = sort_names(comparison.columns).get(comparison.sort)
    sort_key = sorted_by.key if sorted_by is not None else "score"
    columns = _columns(comparison)
    ranked = sorted(range(len(columns)), key=lambda i: (_priority(columns[i], sort_key), i))
    used, kept = 1, set[int]()  # the table's left edge
    for i in ranked:
        need = _width(comparison, columns[i]) + 3  # padding either side and the separator after it
        if used + need <= width or not kept:
            kept.add(i)
            used += need
    return Layout([c for i, c in enumerate(columns) if i in kept],
                  [c.title for i, c in enumerate(columns) if i not in kept])


def table(comparison: Comparison, shown: list[Column]) -> Table:
    """The table of the ``shown`` columns (:func:`layout`)."""
    view = Table(title_justify="left")
    for c in shown:
        if c.key == "candidate":  # wraps between words, never inside one
            view.add_column(escape(c.title), max_width=NAME_WIDTH, overflow="ellipsis")
        else:
            view.add_column(escape(c.title) + _arrow(c), justify="left" if c.higher_is_better is None else "right",
                            no_wrap=True)
    for i in range(len(comparison.rows)):
        view.add_row(*(_cell(comparison, i, c) for c in shown))
    return view


def render(comparison: Comparison, console: Console) -> None:
    console.print(f"Candidates for {escape(comparison.task or '?')}, by {escape(comparison.sort)}, best first "
                  "(↑ higher is better, ↓ lower; bold: the best)")
    fitted = layout(comparison, console.width)
    console.print(table(comparison, fitted.shown))
    left_out = fitted.left_out
    if left_out:
        console.print(f"[dim]Left out for width ({console.width} columns):[/] {escape(', '.join(left_out))}. "
                      "See every column with --html FILE, --json, or a wider terminal.")
    if any(comparison.differences):
        console.print(escape(LEGEND))
    for note in comparison.noise_notes:
        console.print(f"[dim]not compared row by row:[/] {escape(note)}")
    for row in comparison.rows:
        if row.unreadable:
            console.print(f"[yellow]unreadable[/] {escape(row.source)}: {escape(row.unreadable)}")
