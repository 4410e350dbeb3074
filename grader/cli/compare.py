"""``grader compare``: candidates of one task side by side, from report folders or MLflow."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("compare")
@click.argument("reports", nargs=-1, type=click.Path(path_type=Path))
@click.option("--mlflow", "experiment", metavar="TASK_ID",
              help="Compare every grading logged to this task's MLflow experiment (with or instead of REPORTS).")
@click.option("--mlflow-uri", envvar="MLFLOW_TRACKING_URI", show_envvar=True,
              help="MLflow tracking URI for --mlflow [default: the user's store, sqlite:///<data dir>/mlflow.db, "
                   "the data dir being $GRADER_DATA_DIR, else $XDG_DATA_HOME/grader, else ~/.local/share/grader]. "
                   "A local store that is not there is an error, never created.")
@click.option("--sort", "sort_by", default="score", show_default=True,
              help="score, a rubric section id, or a figure (recall, latency.p95_ms, ...); best first.")
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the table as a self-contained HTML page, sortable by clicking a column, each "
                   "candidate linked to their report (with --mlflow, the reports are downloaded beside the page, "
                   "into <page name>.reports/).")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON instead.")
def compare(reports: tuple[Path, ...], experiment: str | None, mlflow_uri: str | None, sort_by: str,
            html_out: Path | None, as_json: bool) -> None:
    """Compare candidates of one task side by side: REPORTS are report folders or report.json files.

    One row per candidate, one column per figure. In a terminal too narrow for every column, the
    lower-priority ones (rubric sections first, then tags, agreement, latency, later metrics) are left
    out, and the output names them: --html or --json has them all. Metric cells are marked against the
    column's best row, paired on the hidden rows (predictions.csv in each folder): ≈ within sampling
    noise of it, ▼ really behind it.

    A report that cannot be read, or whose task was never read (an invalid submission), is a row saying
    why. Exits 0 when every report was compared, 1 when some were such rows, 2 when reports of two
    different tasks are given, --sort names no figure, or the --mlflow store is not there.
    """
    import json
    import tempfile

    from rich.markup import escape

    from grader.cli.console import out, print_json
    from grader.compare import table as cmp
    from grader.compare.html import render as render_html
    from grader.compare.terminal import render as render_terminal

    if not reports and experiment is None:
        raise click.UsageError("give report folders, or --mlflow TASK_ID")
    with tempfile.TemporaryDirectory(prefix="grader-compare-") as tmp:
        sources: list[Path] = list(reports)
        if experiment is not None:
            from grader.integrations.mlflow import Tracking, download_reports

            # The page links each candidate's report: the downloads must outlive this command.
            dest = html_out.with_name(html_out.name + ".reports") if html_out is not None else Path(tmp)
            sources += download_reports(Tracking(mlflow_uri), experiment, dest)
        table = cmp.compare(cmp.load_rows(sources), sort=sort_by)
        if html_out is not None:
            html_out.parent.mkdir(parents=True, exist_ok=True)
            html_out.write_text(render_html(table, page_dir=html_out.parent), encoding="utf-8")
    if as_json:
        print_json(json.dumps(table.to_json()))
    else:
        render_terminal(table, out)
        if html_out is not None:
            out.print(f"HTML table written to [bold]{escape(str(html_out))}[/]")
    sys.exit(1 if any(row.unreadable for row in table.rows) else 0)
