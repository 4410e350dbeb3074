"""The cohort files of ``grader batch``: ``cohort.json`` (:class:`grader.spec.cohort.Cohort`),
``cohort.html`` (the ``grader compare`` page plus the cohort's similarity flags) and ``cohort.md``.

The comparison is of one task: a submission graded against another task, or invalid before its task was
read, is a row saying so rather than the end of the comparison (``compare`` refuses mixed tasks).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from grader.compare.html import render as render_html
from grader.compare.table import Comparison, Row, cell_text, compare, load_row
from grader.report.format import points
from grader.report.write import write_atomic
from grader.spec.cohort import COHORT_FILE, Cohort

HTML_FILE = "cohort.html"
MARKDOWN_FILE = "cohort.md"


def comparison(cohort: Cohort, out_dir: Path) -> Comparison:
    """The cohort as a ``grader compare`` table of its main task (the one most of its reports are for)."""
    rows = [load_row(out_dir / entry.report) for entry in cohort.submissions]
    tasks = Counter(r.report.task.id for r in rows if r.report is not None and r.report.task.version is not None)
    main = tasks.most_common(1)[0][0] if tasks else None
    kept: list[Row] = []
    for row, entry in zip(rows, cohort.submissions, strict=True):
        report = row.report
        if report is not None and main is not None and report.task.id != main:
            why = (f"{entry.outcome}: " + report.failures[0].message if report.failures and report.task.version is None
                   else f"graded against another task ({report.task.id}): see {entry.report}")
            row = Row(row.source, entry.name, unreadable=why)
        kept.append(row)
    return compare(kept)


def markdown(cohort: Cohort, table: Comparison) -> str:
    counts = Counter(entry.outcome for entry in cohort.submissions)
    lines = [f"# Cohort {cohort.batch_id}", "",
             f"{len(cohort.submissions)} submission(s): " + ", ".join(f"{n} {outcome.replace('_', ' ')}"
                                                                    for outcome, n in sorted(counts.items())) + ".",
             "", "| submission | outcome | score | report | resumed |", "| --- | --- | ---: | --- | --- |"]
    lines += [f"| {_md(e.name)} | {e.outcome.replace('_', ' ')} | {points(e.score)} | [{_md(e.report)}]({e.report}) | "
              f"{'yes' if e.resumed else 'no'} |" for e in cohort.submissions]
    lines += ["", f"## Compared, by {table.sort} (best first)", "",
              "| " + " | ".join(_md(c.title) for c in table.columns) + " |",
              "| " + " | ".join("---" if c.higher_is_better is None else "---:" for c in table.columns) + " |"]
    for row, values in zip(table.rows, table.values, strict=True):
        cells = [cell_text(values.get(c.key), c) for c in table.columns]
        if row.unreadable:  # as the HTML page says it: in the status column
            status = next((i for i, c in enumerate(table.columns) if c.key == "status"), len(cells) - 1)
            cells[status] = f"unreadable: {row.unreadable}"
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    sim = cohort.similarity
    if sim is not None:
        flagged = [p for p in sim.pairs if p.flagged]
        lines += ["", "## Code similarity", "",
                  f"{len(flagged)} of {len(sim.pairs)} pair(s) flagged at {sim.threshold:.2f} "
                  "(for a person to compare; it fails nobody)."]
        lines += [f"- {_md(p.a)} ~ {_md(p.b)}: {p.score:.2f}" for p in flagged]
        lines += [f"- not compared: {_md(u.path)}: {_md(u.reason)}" for u in sim.unreadable]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_cohort(cohort: Cohort, out_dir: Path) -> list[Path]:
    """Write cohort.json first (the record), then cohort.html and cohort.md; the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / COHORT_FILE, cohort.model_dump_json(indent=2) + "\n")
    table = comparison(cohort, out_dir)
    write_atomic(out_dir / HTML_FILE, render_html(table, cohort.similarity, page_dir=out_dir))
    write_atomic(out_dir / MARKDOWN_FILE, markdown(cohort, table))
    return [out_dir / COHORT_FILE, out_dir / HTML_FILE, out_dir / MARKDOWN_FILE]

