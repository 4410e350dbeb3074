"""Interviewers' reviews: a human score on top of the automatic one, kept beside the report.

``reviews.json`` in the report's folder is an append-only log (who, when, why, for which
submission). Before the report is written, by ``grader grade`` or ``grader review``, the latest
review of each criterion is applied here and the totals recomputed; the automatic values stay in the
report next to the reviewed ones. Re-grading never touches the log, and a review made for another
submission (another sha256) is kept but not applied.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.errors import GraderError, UnknownNameError, UsageError
from grader.report.write import read_report, write_atomic, write_reports
from grader.rubric import engine
from grader.spec.report import Report, Review

REVIEWS_FILE = "reviews.json"


class ReviewRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criterion: str
    points: float
    note: str
    reviewer: str
    at: str
    submission_sha256: str | None = Field(description="The submission the review was made for.")


class ReviewLog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: str = "1"
    reviews: list[ReviewRecord] = Field(default_factory=list)


def default_reviewer() -> str:
    """``$GRADER_REVIEWER``, else git's user.name, else the login name."""
    if os.environ.get("GRADER_REVIEWER"):
        return os.environ["GRADER_REVIEWER"]
    try:
        name = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    return name or getpass.getuser()


def load(folder: Path) -> ReviewLog:
    path = folder / REVIEWS_FILE
    if not path.is_file():
        return ReviewLog()
    try:
        return ReviewLog.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        raise GraderError(f"{path} is not a valid reviews file: {exc}",
                          "fix or move the file; it is written by `grader review`") from None


def apply(report: Report, folder: Path) -> None:
    """Apply the folder's reviews to the report (latest per criterion wins), then settle it."""
    if report.rubric is None:
        return
    known = {c.id for c in engine.criteria(report.rubric)}
    report.rubric.reviews_not_applied = []
    for c in engine.criteria(report.rubric):
        c.points, c.review = c.automatic_points, None
    for record in load(folder).reviews:
        if record.submission_sha256 != report.submission.sha256:
            report.rubric.reviews_not_applied.append(
                f"{record.criterion} by {record.reviewer} at {record.at}: made for another submission "
                f"({(record.submission_sha256 or 'unknown')[:12]})")
        elif record.criterion not in known:
            report.rubric.reviews_not_applied.append(f"{record.criterion} by {record.reviewer}: no such criterion "
                                                     "in this report's rubric")
        else:
            engine.apply_review(report.rubric, record.criterion, Review(
                points=record.points, note=record.note, reviewer=record.reviewer, at=record.at))
    engine.settle_report(report)


def add(folder: Path, criterion: str, points: float, note: str, reviewer: str | None = None) -> Report:
    """Record a review of ``criterion`` for the report in ``folder``; return the re-scored report."""
    report = read_report(folder)
    if report.rubric is None:
        raise UsageError(f"the report in {folder} has no rubric to review (status {report.status})",
                         "only graded submissions have a rubric")
    found = {c.id: c for c in engine.criteria(report.rubric)}
    if criterion not in found:
        raise UnknownNameError("criterion", criterion, found)
    target = found[criterion]
    if not 0 <= points <= target.max_points:
        raise UsageError(f"{criterion} is worth 0 to {target.max_points:g} points, not {points:g}",
                         f"give between 0 and {target.max_points:g} points")
    if not note.strip():
        raise UsageError("a review needs a note saying why", "add --note '...'")
    log = load(folder)
    log.reviews.append(ReviewRecord(criterion=criterion, points=points, note=note.strip(),
                                    reviewer=reviewer or default_reviewer(),
                                    at=datetime.now(UTC).isoformat(timespec="seconds"),
                                    submission_sha256=report.submission.sha256))
    write_atomic(folder / REVIEWS_FILE, json.dumps(log.model_dump(), indent=2) + "\n")
    apply(report, folder)
    write_reports(report, folder)
    return report
