"""The comparison in the terminal (rich): one row per candidate when that fits the width, else one
column per candidate, so a table of many figures stays readable in a narrow terminal."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from grader.compare.noise import LEGEND, WITHIN_NOISE, mark
from grader.compare.table import Column, Comparison, cell_text


def _cell(comparison: Comparison, index: int, column: Column, unreadable: bool) -> str:
    value = comparison.values[index].get(column.key)
    text = escape(cell_text(value, column))
    marked = mark(comparison, index, column.key)
    if marked:
        return f"{text} [cyan]{marked}[/]" if marked == WITHIN_NOISE else f"{text} [dim]{marked}[/]"
    if column.higher_is_better is not None and value is not None and value == comparison.best(column.key):
        return f"[bold green]{text}[/]"
    return f"[yellow]{text}[/]" if unreadable else text


def _arrow(column: Column) -> str:
    return "" if column.higher_is_better is None else (" ↑" if column.higher_is_better else " ↓")


def _fits(comparison: Comparison, width: int) -> bool:
    widths = [max([len(c.title) + 2, *(len(cell_text(v.get(c.key), c)) + 2 for v in comparison.values)])
              for c in comparison.columns]
    return sum(widths) + 3 * len(widths) + 1 <= width


def table(comparison: Comparison, width: int) -> Table:
    title = (f"Candidates for {escape(comparison.task or '?')}, by {escape(comparison.sort)}, best first "
             "(↑ higher is better, ↓ lower; bold: the best)")
    view = Table(title=title, title_justify="left")
    pairs = list(zip(comparison.rows, comparison.values, strict=True))
    if _fits(comparison, width):
        for c in comparison.columns:
            view.add_column(escape(c.title) + _arrow(c), justify="left" if c.higher_is_better is None else "right")
        for i, (row, _) in enumerate(pairs):
            view.add_row(*(_cell(comparison, i, c, row.unreadable is not None) for c in comparison.columns))
        return view
    view.add_column("", no_wrap=True)
    for _, values in pairs:
        view.add_column(escape(str(values["candidate"])), justify="right", overflow="fold")
    for c in comparison.columns[1:]:
        view.add_row(escape(c.title) + _arrow(c), *(_cell(comparison, i, c, row.unreadable is not None)
                                                    for i, (row, _) in enumerate(pairs)))
    return view


def render(comparison: Comparison, console: Console) -> None:
    console.print(table(comparison, console.width))
    if any(comparison.differences):
        console.print(escape(LEGEND))
    for note in comparison.noise_notes:
        console.print(f"[dim]not compared row by row:[/] {escape(note)}")
    for row in comparison.rows:
        if row.unreadable:
            console.print(f"[yellow]unreadable[/] {escape(row.source)}: {escape(row.unreadable)}")
