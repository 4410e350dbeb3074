"""Interviewers' reviews: recorded with provenance, applied before every write, never lost, never misapplied."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grader.errors import GraderError
from grader.report.write import write_reports
from grader.rubric import review
from grader.rubric.engine import grade, settle_report
from tests.rubric.conftest import metric, rubric, section


@pytest.fixture
def graded(ctx, report, tmp_path):
    """A graded report with a two-criterion rubric, written to a folder."""
    report.submission.sha256 = "a" * 64
    report.rubric = grade(rubric(section("q", 100, metric("recall", "recall", zero=0.5, full=0.9),
                                         metric("speed", "latency.p95_ms", threshold=100)), pass_mark=60), ctx)
    settle_report(report)
    out = tmp_path / "out"
    write_reports(report, out)
    return out


def test_a_review_changes_the_total_and_keeps_the_automatic_values(graded):
    before = review.read_report(graded)
    assert before.score == 25.0 and not before.passed
    after = review.add(graded, "speed", 50, "p95 measured on a loaded machine; 80 ms on a quiet one", "alice")
    speed = next(c for c in after.rubric.sections[0].criteria if c.id == "speed")
    assert (speed.automatic_points, speed.points) == (0.0, 50.0) and speed.review.reviewer == "alice"
    assert after.rubric.automatic_total == 25.0 and after.score == after.rubric.total == 75.0 and after.passed
    saved = json.loads((graded / "report.json").read_text())
    assert saved["score"] == 75.0 and saved["rubric"]["sections"][0]["criteria"][1]["review"]["note"].startswith("p95")
    log = json.loads((graded / "reviews.json").read_text())["reviews"]
    assert log[0]["criterion"] == "speed" and log[0]["at"].endswith("+00:00") and log[0]["submission_sha256"]


def test_the_latest_review_wins_and_the_log_keeps_them_all(graded):
    review.add(graded, "speed", 50, "first look", "alice")
    after = review.add(graded, "speed", 10, "second look", "bob")
    assert after.score == 35.0 and len(review.load(graded).reviews) == 2


def test_reviews_survive_a_rewrite_of_the_report(graded):
    review.add(graded, "speed", 50, "fine", "alice")
    fresh = review.read_report(graded)
    for c in fresh.rubric.sections[0].criteria:  # as a re-grade would produce it: automatic values only
        c.points, c.review = c.automatic_points, None
    review.apply(fresh, graded)  # what the pipeline does before it writes
    write_reports(fresh, graded)
    assert review.read_report(graded).score == 75.0


def test_writing_a_report_never_scores_it(graded):
    review.add(graded, "speed", 50, "fine", "alice")
    fresh = review.read_report(graded)
    for c in fresh.rubric.sections[0].criteria:
        c.points, c.review = c.automatic_points, None
    settle_report(fresh)
    write_reports(fresh, graded)  # reviews.json is beside it, but writing does not apply it
    assert review.read_report(graded).score == 25.0


def test_a_review_of_another_submission_is_kept_but_not_applied(graded):
    review.add(graded, "speed", 50, "fine", "alice")
    other = review.read_report(graded)
    other.submission.sha256 = "b" * 64
    review.apply(other, graded)
    write_reports(other, graded)
    again = review.read_report(graded)
    assert again.score == 25.0 and "made for another submission" in again.rubric.reviews_not_applied[0]
    assert len(review.load(graded).reviews) == 1


@pytest.mark.parametrize("criterion, points, note, message", [
    ("sped", 10, "x", "did you mean 'speed'"),
    ("speed", 60, "x", "speed is worth 0 to 50 points, not 60"),
    ("speed", 10, " ", "a review needs a note"),
])
def test_bad_reviews_are_refused_and_nothing_is_written(graded, criterion, points, note, message):
    with pytest.raises(GraderError, match=message):
        review.add(graded, criterion, points, note, "alice")
    assert not (graded / "reviews.json").exists()


def test_review_command(graded):
    args = [sys.executable, "-m", "grader", "review", str(graded), "--criterion", "recall", "--points", "40",
            "--note", "strong recall for its class balance", "--reviewer", "carol"]
    wide = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(args, capture_output=True, text=True, env=wide)
    assert done.returncode == 0, done.stderr
    assert "automatic 25" in done.stdout and "carol" in done.stdout  # the criteria, reviewed and automatic
    bad = subprocess.run(args[:5] + ["--criterion", "nope", "--points", "1", "--note", "x"], capture_output=True,
                         text=True, env=wide)
    assert bad.returncode == 2 and "unknown criterion 'nope'" in bad.stderr


@pytest.mark.parametrize("given", [["--points", "40"], ["--note", "why"], ["--points", "40", "--note", "why"]])
def test_points_or_note_without_a_criterion_is_a_usage_error(graded, given):
    from click.testing import CliRunner

    from grader.cli import main

    result = CliRunner().invoke(main, ["review", str(graded), *given], env={"COLUMNS": "200"})
    assert result.exit_code == 2, result.output
    assert "without --criterion" in result.output and "--criterion <id>" in result.output
    assert not (graded / "reviews.json").exists()  # nothing recorded, nothing silently ignored
