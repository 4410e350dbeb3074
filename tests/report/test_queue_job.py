"""A report graded by a queue worker says which job and attempt it was, in every format; one graded
here says nothing about a queue (report.json leaves the key out)."""

from __future__ import annotations

import json

from grader.report import html, markdown
from grader.spec.report import QueueJob
from tests.report import load_fixture


def test_the_attempt_and_worker_are_shown_where_the_environment_is():
    report = load_fixture("reference")
    report.environment.queue = QueueJob(job_id="grade-abc", attempt=2, attempts_allowed=3, worker="w2", host="box")
    assert "queue job grade-abc, attempt 2 of 3 on w2" in markdown.render(report)
    assert "grade-abc · attempt 2 of 3 · worker w2 on box" in html.render(report)
    assert json.loads(report.model_dump_json())["environment"]["queue"]["attempt"] == 2


def test_a_grading_here_has_no_queue_key():
    report = load_fixture("reference")
    assert "queue" not in json.loads(report.model_dump_json())["environment"]
    assert "queue job" not in markdown.render(report) and "Queue job" not in html.render(report)
