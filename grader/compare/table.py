"""``grader compare``: the candidates of one task side by side, sortable by score and by each figure.

:func:`load_rows` turns sources into :class:`Row` s (a report folder or a ``report.json`` path
today; another source, such as an MLflow experiment, only has to make rows with
:meth:`Row.from_report`). :func:`compare` checks they are for one task and lays out the columns;
the terminal table (``grader.cli``) and the HTML page (:mod:`grader.compare.html`) show the same
:class:`Comparison`. A report that does not load is a row saying why, never a crash: one broken file
must not hide the other candidates. So is a report whose task was never read (task ``unknown``, or
named but without a version: a submission rejected before its task loaded); only reports of two tasks
that were both read are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grader.errors import GraderError, UnknownNameError
from grader.report.write import REPORT_FILE
from grader.spec.report import PairedDifference, Report
from grader.submission.intake import submission_name

#: Figures every comparison shows after the metrics (when some report has them).
EXTRA_FIGURES = ("latency.p50_ms", "latency.p95_ms", "reproducibility.prediction_agreement")


class CompareError(GraderError):
    """The reports cannot be compared as asked (other tasks, unknown figure): a usage error."""

    exit_code = 2


@dataclass
class Row:
    """One candidate: where its report came from, and the report, or why it could not be read."""

    source: str
    candidate: str
    report: Report | None = None
    unreadable: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_report(cls, report: Report, source: str, candidate: str | None = None,
                    tags: dict[str, str] | None = None) -> Row:
        """The row of a loaded report. The candidate is ``candidate``, else the one the grader was told
        (``--candidate``), else the submission's folder or archive name, else the source's name;
        ``tags`` (say, an MLflow run's) are shown in their own column."""
        path = report.submission.path
        name = candidate or report.submission.candidate
        name = name or (submission_name(path) if path else None)
        return cls(source, name or _name_from_source(source), report, tags=dict(tags or {}))


@dataclass(frozen=True)
class Column:
    """A column of the table; ``higher_is_better`` is None for text columns."""

    key: str
    title: str
    higher_is_better: bool | None = None
    digits: int = 3


@dataclass
class Comparison:
    task: str | None
    columns: list[Column]
    rows: list[Row]
    sort: str
    values: list[dict[str, Any]] = field(default_factory=list)
    #: Per row, metric -> its difference from that metric's best row, paired on the hidden rows
    #: (:mod:`grader.compare.noise`); empty when no paired comparison was made.
    differences: list[dict[str, PairedDifference]] = field(default_factory=list)
    #: Why some rows (or all) have no paired comparison.
    noise_notes: list[str] = field(default_factory=list)

    def best(self, key: str) -> float | None:
        """The best value of a figure column across the rows (None for text or all-missing columns)."""
        column = next(c for c in self.columns if c.key == key)
        found = [v[key] for v in self.values if isinstance(v.get(key), int | float)]
        if column.higher_is_better is None or not found:
            return None
        return max(found) if column.higher_is_better else min(found)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "sort": self.sort,
                "columns": [{"key": c.key, "title": c.title, "higher_is_better": c.higher_is_better}
                            for c in self.columns],
                "rows": [{"source": r.source, "unreadable": r.unreadable, "tags": r.tags, **v,
                          "versus_best": {k: d.model_dump() for k, d in diffs.items()}}
                         for r, v, diffs in zip(self.rows, self.values,
                                                self.differences or [{}] * len(self.rows), strict=True)],
                "noise_notes": self.noise_notes}


def _name_from_source(source: str) -> str:
    path = Path(source)
    return path.parent.name if path.name == REPORT_FILE and path.parent.name else path.stem or source


def load_row(source: str | Path) -> Row:
    """The row of one report folder or ``report.json``; unreadable (with the reason) when it does not load."""
    path = Path(source)
    file = path / REPORT_FILE if path.is_dir() else path
    try:
        report = Report.model_validate_json(file.read_bytes())
    except OSError as exc:
        return Row(str(source), _name_from_source(str(source)), unreadable=f"cannot read {file}: {exc.strerror}")
    except ValidationError as exc:  # not JSON, or JSON but not a report
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        reason = f"not a report.json ({exc.error_count()} problem(s); {where}: {first['msg']})"
        return Row(str(source), _name_from_source(str(source)), unreadable=reason)
    return Row.from_report(report, str(source))


def load_rows(sources: Iterable[str | Path]) -> list[Row]:
    """Rows for the sources, in order. The place to add other kinds of sources (an MLflow experiment)."""
    return [load_row(source) for source in sources]


def _tell_apart(rows: list[Row]) -> None:
    """Two rows of one candidate (the same example graded twice) get where they came from in their name."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.candidate] = counts.get(row.candidate, 0) + 1
    for row in rows:
        if counts[row.candidate] > 1:
            where = Path(row.source)
            row.candidate = f"{row.candidate} ({where.parent.name if where.name == REPORT_FILE else where.name})"


def _figure_column(name: str) -> Column:
    """The column of a figure, titled, directed and rounded as the figure registry says."""
    from grader.evaluate.figures import get_figure, metric_figure

    try:
        figure = get_figure(name)
    except UnknownNameError:  # a metric this grader does not know (an older report)
        figure = metric_figure(name)
    return Column(name, figure.title or name, figure.higher_is_better, figure.digits)


def _columns(rows: list[Row]) -> list[Column]:
    from grader.evaluate.figures import get_figure

    reports = [r.report for r in rows if r.report is not None]
    columns = [Column("candidate", "candidate")]
    columns += [Column("tags", "tags")] if any(r.tags for r in rows) else []
    columns += [Column("status", "status"), Column("passed", "passed"), Column("score", "score", True, 2)]
    # Integrity flags fail nobody, but a person must see them beside the score they question.
    columns += [Column("integrity", "integrity flags")] if any(r.integrity.flags for r in reports) else []
    sections: dict[str, None] = {}
    metrics: dict[str, None] = {}
    for report in reports:
        sections.update(dict.fromkeys(s.id for s in (report.rubric.sections if report.rubric else [])))
        metrics.update(dict.fromkeys(report.metrics))
    columns += [Column(f"section:{sid}", sid, True, 2) for sid in sections]  # points as reports round them
    columns += [_figure_column(name) for name in metrics]
    columns += [_figure_column(name) for name in EXTRA_FIGURES
                if name not in metrics and any(get_figure(name).value(r) is not None for r in reports)]
    return columns


def _values(row: Row, columns: list[Column]) -> dict[str, Any]:
    from grader.evaluate.figures import get_figure

    report = row.report
    values: dict[str, Any] = {"candidate": row.candidate, "tags": ", ".join(f"{k}={v}" for k, v in row.tags.items())}
    if report is None:
        return {**values, "status": "unreadable", "passed": None}
    sections = {s.id: s.points for s in report.rubric.sections} if report.rubric else {}
    status = "self-check" if report.verdict.self_check else report.status  # public split: not a grade
    values.update(status=status, passed=report.passed, score=report.score)
    if any(c.key == "integrity" for c in columns):
        values["integrity"] = ", ".join(f"{f.kind} ({f.severity})" for f in report.integrity.flags) or "-"
    for column in columns:
        if column.key in values or column.higher_is_better is None:
            continue
        if column.key.startswith("section:"):
            values[column.key] = sections.get(column.key.removeprefix("section:"))
        elif column.key in report.metrics:
            values[column.key] = report.metrics[column.key]
        else:
            try:
                values[column.key] = get_figure(column.key).value(report)
            except UnknownNameError:
                values[column.key] = None
    return values


def sort_names(columns: list[Column]) -> dict[str, Column]:
    """What ``--sort`` accepts among the columns: score, the section ids and every figure shown."""
    return {c.key.removeprefix("section:"): c for c in columns if c.higher_is_better is not None}


def _sort_column(columns: list[Column], sort: str) -> Column:
    """The column to sort by; a figure not shown yet (``latency.p99_ms``) is added as a column."""
    from grader.evaluate.figures import figures
    from grader.evaluate.metrics import metrics

    shown = sort_names(columns)
    if sort in shown:
        return shown[sort]
    if sort in metrics or sort in figures:
        columns.append(_figure_column(sort))
        return columns[-1]
    raise CompareError(*_did_you_mean(sort, [*shown, *metrics.names(), *figures.names()]))


def _did_you_mean(name: str, known: list[str]) -> tuple[str, str | None]:
    err = UnknownNameError("figure", name, dict.fromkeys(known))
    return f"cannot sort by {name!r}: {err.message}", err.hint


#: The task id of a report whose task was never read (a submission rejected before it).
UNKNOWN_TASK = "unknown"


def _read_task(report: Report) -> bool:
    """Whether the report's task was read (a real task, with its version), not just named or unknown."""
    return report.task.id != UNKNOWN_TASK and report.task.version is not None


def _main_task(rows: list[Row]) -> str | None:
    """The one task the rows are for. Reports of two tasks that were both read are refused; one whose task
    is unknown, or was named but never read (an invalid submission), does not decide it."""
    tasks: dict[str, list[str]] = {}
    named: dict[str, int] = {}
    for row in rows:
        if row.report is None:
            continue
        if _read_task(row.report):
            tasks.setdefault(row.report.task.id, []).append(row.candidate)
        elif row.report.task.id != UNKNOWN_TASK:
            named[row.report.task.id] = named.get(row.report.task.id, 0) + 1
    if len(tasks) > 1:
        listed = "; ".join(f"{task}: {', '.join(names)}" for task, names in sorted(tasks.items()))
        raise CompareError(f"the reports are for different tasks ({listed})",
                           "compare the candidates of one task at a time")
    if tasks:
        return next(iter(tasks))
    return max(named, key=lambda t: (named[t], t)) if named else None


def _not_of(main: str | None, row: Row) -> Row:
    """A report of another task than ``main`` (only possible when its task was never read) as a marked row."""
    report = row.report
    if report is None or report.task.id == main:
        return row
    what = ("its task is unknown (rejected before its task was read)" if report.task.id == UNKNOWN_TASK
            else f"its task {report.task.id!r} could not be read")
    first = f": {report.failures[0].message}" if report.failures else ""
    return Row(row.source, row.candidate, unreadable=f"not compared, {what}; {report.status}{first}",
               tags=row.tags)


def compare(rows: list[Row], sort: str = "score", *, paired: bool = True) -> Comparison:
    """Check the rows are for one task, lay out the columns and sort the rows, best first; with ``paired``,
    tell which rows are within sampling noise of each metric's best (:mod:`grader.compare.noise`)."""
    _tell_apart(rows)
    main = _main_task(rows)
    rows = [_not_of(main, row) for row in rows]
    columns = _columns(rows)
    column = _sort_column(columns, sort)
    values = [_values(row, columns) for row in rows]

    def order(pair: tuple[Row, dict[str, Any]]) -> tuple[int, float, str]:
        value = pair[1].get(column.key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return (1, 0.0, pair[0].candidate)
        return (0, -value if column.higher_is_better else value, pair[0].candidate)

    ordered = sorted(zip(rows, values, strict=True), key=order)
    table = Comparison(main, columns, [r for r, _ in ordered], sort, [v for _, v in ordered])
    if paired:
        from grader.compare import noise

        noise.attach(table)
    return table


def cell_text(value: Any, column: Column) -> str:
    """How a value is written in the terminal and the HTML table."""
    if value is None:
        return "n/a" if column.higher_is_better is not None else ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{column.digits}f}"
    return str(value)
