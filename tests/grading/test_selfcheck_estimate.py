"""``grader check``'s estimate: the rubric on the validation figures, gates with their values, written answers
left out (never graded, so no key point can show), and the verdict and report.json that follow from it.

The report is the self-check fixture (a real ``grader check`` of the reference), with its metrics changed
where a test needs another outcome; the task, the rubric and the submission's files are the real ones.
"""

from __future__ import annotations

import json

import pytest

from grader.grading import selfcheck
from grader.rubric.base import Context, Outcome
from grader.spec.report import Failure, Report
from grader.spec.task import discover_tasks, load_task
from tests.helpers import EXAMPLES, TASK_ID
from tests.report import load_fixture

#: The template's figures: a majority-class model (never predicts "bad").
MAJORITY = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.718, "roc_auc": 0.5, "average_precision": 0.282}


def checked(metrics: dict[str, float] | None = None, submission=EXAMPLES / "reference") -> Report:
    """The self-check fixture, estimated as the pipeline does (with ``metrics`` instead of its own)."""
    report = load_fixture("selfcheck")
    report.estimate, report.self_check = None, []
    if metrics is not None:
        report.metrics, report.metrics_ci = dict(metrics), {}
    task = load_task(discover_tasks()[TASK_ID])
    rubric = task.rubric_spec()
    # The Dockerfile build is graded ahead in the sandbox: its outcome is given, as the pipeline gives it.
    ctx = Context(report=report, task=task, submission=submission,
                  ready={"dockerfile": Outcome(1.0, "builds offline")})
    report.estimate = selfcheck.estimate(rubric, ctx)
    report.self_check = selfcheck.notes(rubric, ctx, report.estimate)
    return report


def test_a_majority_class_model_fails_the_gates_and_exits_1():
    report = checked(MAJORITY)
    estimate = report.estimate
    assert estimate is not None and estimate.basis == "public validation split, an estimate"
    failing = {g.figure: g for g in estimate.gates if not g.met}
    assert set(failing) == {"recall", "precision"}
    assert failing["recall"].value == 0.0 and failing["recall"].bound == 0.6
    assert failing["recall"].message == "recall 0.000 on validation, the gate is 0.6, short by 0.600"
    verdict = report.verdict
    assert (verdict.outcome, verdict.exit_code, verdict.self_check) == ("not_passed", 1, True)
    assert verdict.label == "Self-check: problems to fix"
    assert "recall 0.000 on validation, the gate is 0.6, short by 0.600" in verdict.reasons
    assert report.failures == []  # it runs cleanly: the gates alone make it a problem to fix


def test_the_reference_meets_every_gate_and_exits_0():
    report = checked()
    assert report.estimate is not None and report.estimate.failing == []
    assert all(g.met for g in report.estimate.gates) and len(report.estimate.gates) == 2
    assert report.verdict.outcome == "passed" and report.exit_code == 0 and report.verdict.reasons == ()
    assert report.estimate.score > 40  # recall, precision, ranking, serving and checks earn points


def test_a_failed_run_is_still_a_problem_to_fix():
    report = checked()
    report.failures.append(Failure(phase="predict", kind="crash", message="boom"))
    assert report.exit_code == 1 and report.verdict.outcome == "not_passed"


def test_the_score_is_the_sum_of_the_estimated_points_and_says_what_is_left_out():
    report = checked()
    estimate = report.estimate
    assert estimate is not None
    estimated = [c for c in estimate.criteria if c.points is not None]
    assert estimate.score == pytest.approx(sum(c.points or 0 for c in estimated), abs=0.01)
    left = {c.id for c in estimate.criteria if c.points is None}
    assert left == {"same-seed-agreement", "serving-latency", "drift-monitoring", "retraining-rollback",
                    "explaining-errors"}
    assert estimate.not_estimated_points == pytest.approx(35.0)
    assert estimate.ceiling == pytest.approx(min(100, estimate.score + 35.0))
    assert any(line.startswith("written answers (30 points): ") for line in estimate.not_estimated)
    assert any(line.startswith("identical predictions from trainings with the same seed (5 points): needs "
                               "repeated trainings")
               for line in estimate.not_estimated)
    assert estimate.pass_mark == 60


def test_written_answers_are_never_graded_so_no_key_point_shows():
    """Their key points are for interviewers: nothing of them may reach the candidate's report."""
    task = load_task(discover_tasks()[TASK_ID])
    report = checked()
    text = report.model_dump_json()
    for question in task.rubric_spec().questions():
        for point in question.key_points:
            assert point.description not in text and f"{point.id} (" not in text, point.id
        criterion = next(c for c in report.estimate.criteria if c.id == question.id)
        assert criterion.points is None and criterion.explanation.startswith("not estimated: written answers")


def test_a_self_check_report_json_has_no_score_and_a_grade_has_no_estimate():
    saved = json.loads(checked(MAJORITY).model_dump_json())
    assert saved["status"] == "graded" and saved["evaluated_on"] == "valid"
    assert "score" not in saved and "passed" not in saved  # not "graded, score 0"
    assert saved["estimate"]["gates"][0]["message"].endswith("on validation, the gate is 0.6, short by 0.600")
    assert Report.model_validate(saved).estimate is not None  # and it reads back
    graded = json.loads(load_fixture("reference").model_dump_json())
    assert "estimate" not in graded and graded["score"] > 0 and graded["passed"] is True


def test_the_checks_are_graded_once_and_listed_to_fix():
    report = checked(submission=EXAMPLES / "baseline")
    assert any(note.startswith("A README that explains the solution: ") for note in report.self_check) or any(
        note.startswith("Tests of the candidate's own code") for note in report.self_check)
    explained = {c.id: c.explanation for c in report.estimate.criteria}
    for note in report.self_check:
        if not note.startswith("ANSWERS.md"):
            assert note.split(": ", 1)[1] in explained.values()
