"""``grader review``: an interviewer's score for one criterion of a graded report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("report_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--criterion", help="The criterion to score (its id, as in the report's rubric).")
@click.option("--points", type=float, help="Your points for it, from 0 to its maximum.")
@click.option("--note", default="", help="Why: kept with the review and shown in every report.")
@click.option("--reviewer", help="Who reviews (default: $GRADER_REVIEWER, git's user.name, or the login).")
def review(report_dir: Path, criterion: str | None, points: float | None, note: str, reviewer: str | None) -> None:
    """Record an interviewer's score for one criterion of a graded report, or list the criteria.

    The review is kept in REPORT_DIR/reviews.json (who, when, why) and applied whenever the report is
    written; report.json is rewritten with the new total, and the automatic points stay beside it.
    """
    from grader.cli.console import out
    from grader.report.terminal import render
    from grader.rubric import review as reviews

    if criterion is None:
        report = reviews.read_report(report_dir)
        reviews.apply(report, report_dir)
    else:
        if points is None:
            raise click.UsageError("--criterion needs --points (and --note)")
        report = reviews.add(report_dir, criterion, points, note, reviewer)
    render(report, out)
