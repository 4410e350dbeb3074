"""Enqueuing and collecting against a real redis-server: one job per grading however often it is given,
and a job no worker can grade ends, after its retries, as that submission's error report with the reason.
(Gradings in the Docker sandbox through `grader worker`: test_queue_docker.py.)"""

from __future__ import annotations

import shutil

import pytest

from grader.grading.batch import Entry, read_existing
from grader.queue.client import QueueBatch, fetch_job, status
from grader.queue.connection import connect
from grader.queue.jobs import RETRIES
from grader.queue.worker import GradingWorker
from tests.helpers import make_submission

pytestmark = pytest.mark.redis


@pytest.fixture()
def client(redis_server):
    redis = connect(redis_server.url)
    yield redis
    redis.close()


def test_the_same_submission_enqueued_twice_is_one_job(tmp_path, client):
    alice = make_submission(tmp_path / "cohort" / "alice")
    twin = shutil.copytree(alice, tmp_path / "cohort" / "alice-twin")  # the same content under another name
    bob = make_submission(tmp_path / "cohort" / "bob", extra={"NOTES.md": "bob\n"})
    entries = [Entry("alice", alice), Entry("alice-twin", twin), Entry("bob", bob)]
    first = QueueBatch(client, tmp_path / "out", "b1").enqueue(entries)
    assert [s.reused for s in first] == [False, True, False]
    assert first[0].job_id == first[1].job_id != first[2].job_id
    again = QueueBatch(client, tmp_path / "out", "b2").enqueue(entries)  # a re-run, or a colleague's batch
    assert [s.job_id for s in again] == [s.job_id for s in first] and all(s.reused for s in again)
    state = status(client, "redis://x")
    assert (state.queued, state.running, state.failed, state.workers) == (2, 0, 0, [])


def test_a_job_no_worker_can_grade_fails_after_its_retries_with_the_reason(tmp_path, client, monkeypatch):
    alice = make_submission(tmp_path / "alice")
    batch = QueueBatch(client, tmp_path / "out", "b1", poll_s=0.1)
    [submitted] = batch.enqueue([Entry("alice", alice)])
    # the workers run another grader version than the batch that enqueued: each attempt refuses the job
    monkeypatch.setattr("grader.queue.jobs.__version__", "0.0.0-other")
    worker = GradingWorker(["grader"], connection=client, name="refuser")
    worker.work(burst=True, with_scheduler=False)
    monkeypatch.undo()  # back to the batch's version
    job = fetch_job(client, submitted.job_id)
    assert job is not None and job.get_status() == "failed" and job.retries_left == 0
    state = status(client, "redis://x")
    assert state.failed == 1 and state.failures[0].submission == "alice"
    assert "this worker runs grader 0.0.0-other" in state.failures[0].reason
    [again] = batch.enqueue([Entry("alice", alice)])  # not collected yet: a re-run collects, grades nothing
    assert again.reused
    [result] = batch.collect([submitted])
    assert (result.status, result.outcome) == ("error", "error")
    report = read_existing(tmp_path / "out" / "alice")
    assert report is not None and report.status == "error"
    message = report.failures[0].message
    assert f"failed after {RETRIES + 1} attempt(s)" in message and "this worker runs grader 0.0.0-other" in message
    [retried] = batch.enqueue([Entry("alice", alice)])  # its error is in --out now: a re-run grades it again
    assert not retried.reused and fetch_job(client, retried.job_id).get_status() == "queued"


def test_a_submission_too_large_to_travel_is_invalid_under_the_task_it_names(tmp_path, client, monkeypatch):
    from grader.queue import client as queue_client

    monkeypatch.setattr(queue_client, "MAX_SUBMISSION_BYTES", 1024)
    import secrets

    big = make_submission(tmp_path / "cohort" / "big", extra={"weights.txt": secrets.token_hex(20_000)})
    [submitted] = QueueBatch(client, tmp_path / "out", "b1").enqueue([Entry("big", big)])
    assert submitted.job_id is None and submitted.result is not None
    report = read_existing(tmp_path / "out" / "big")
    assert report is not None and report.status == "invalid"
    assert report.task.id == "tabular/credit-default", "filed under unknown, not the task its manifest names"
    assert "submission big" in report.failures[0].message, report.failures
