"""``grader review``: an interviewer's score for one criterion of a graded report."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("report_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--criterion", help="The criterion to score (its id, as in the report's rubric).")
@click.option("--points", type=float, help="Your points for it, from 0 to its maximum (needs --criterion).")
@click.option("--note", default=None, help="Why: kept with the review and shown in every report (needs --criterion).")
@click.option("--reviewer", help="Who reviews (default: $GRADER_REVIEWER, git's user.name, or the login).")
@click.option("--mlflow-uri", help="The store of the report's MLflow run, when it is no longer where the grading "
                                   "recorded it [default: the report's environment.mlflow.tracking_uri].")
def review(report_dir: Path, criterion: str | None, points: float | None, note: str | None, reviewer: str | None,
           mlflow_uri: str | None) -> None:
    """Record an interviewer's score for one criterion of a graded report, or list the criteria.

    The review is kept in REPORT_DIR/reviews.json (who, when, why) and applied whenever the report is
    written; report.json is rewritten with the new total, and the automatic points stay beside it. The
    grading's MLflow run gets the reviewed score (metrics review.score, score, rubric.total) and tags
    grader.reviewed_by, grader.reviewed_at and grader.reviewed_criterion; when its store cannot be reached
    the review is still kept, and the output says the run was not updated and why.
    """
    from grader.cli.console import out
    from grader.integrations.mlflow import record_review
    from grader.report.terminal import render
    from grader.rubric import review as reviews
    from grader.spec.report import Review

    if criterion is None:
        given = [name for name, value in (("--points", points), ("--note", note)) if value is not None]
        if given:
            raise click.UsageError(f"{' and '.join(given)} without --criterion would be ignored: say which "
                                   "criterion they score, e.g. --criterion <id> (run `grader review REPORT_DIR` "
                                   "to list the criteria)")
        report = reviews.read_report(report_dir)
        reviews.apply(report, report_dir)
        render(report, out, verbose=True)  # the criteria, with their automatic and reviewed points
        return
    if points is None:
        raise click.UsageError("--criterion needs --points (and --note)")
    report = reviews.add(report_dir, criterion, points, note or "", reviewer)
    render(report, out, verbose=True)
    latest = reviews.load(report_dir).reviews[-1]
    synced = record_review(report, report_dir, criterion, Review(points=latest.points, note=latest.note,
                                                                 reviewer=latest.reviewer, at=latest.at),
                           uri=mlflow_uri)
    out.print(synced.message, style=None if synced.updated else "yellow", markup=False)
