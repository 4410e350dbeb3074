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
              help="MLflow tracking URI for --mlflow [default: sqlite:///mlflow.db here].")
@click.option("--sort", "sort_by", default="score", show_default=True,
              help="score, a rubric section id, or a figure (recall, latency.p95_ms, ...); best first.")
@click.option("--html", "html_out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the table as a self-contained HTML page, sortable by clicking a column.")
@click.option("--json", "as_json", is_flag=True, help="Print the table as JSON instead.")
def compare(reports: tuple[Path, ...], experiment: str | None, mlflow_uri: str | None, sort_by: str,
            html_out: Path | None, as_json: bool) -> None:
    """Compare candidates of one task side by side: REPORTS are report folders or report.json files.

    Metric cells are marked against the column's best row, paired on the hidden rows (predictions.csv in
    each folder): ≈ within sampling noise of it, ▼ really behind it.

    Exits 0 when every report was read, 1 when some could not be (they are rows saying why), 2 when
    the reports are for different tasks or --sort names no figure.
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

            sources += download_reports(Tracking(mlflow_uri), experiment, Path(tmp))
        table = cmp.compare(cmp.load_rows(sources), sort=sort_by)
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        html_out.write_text(render_html(table), encoding="utf-8")
    if as_json:
        print_json(json.dumps(table.to_json()))
    else:
        render_terminal(table, out)
        if html_out is not None:
            out.print(f"HTML table written to [bold]{escape(str(html_out))}[/]")
    sys.exit(1 if any(row.unreadable for row in table.rows) else 0)
