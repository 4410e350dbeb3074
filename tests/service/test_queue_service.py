"""``grader serve --queue``: the server grades nothing itself; a submission waits in the queue until a
``grader worker`` (a real process on a real redis-server, grading in the Docker sandbox) takes it, and the
server follows the job to its report."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import make_submission
from tests.queue.conftest import Processes, RedisServer
from tests.service.conftest import Service, zipped

pytestmark = [pytest.mark.docker, pytest.mark.redis, pytest.mark.slow]

#: Long enough a training for the server to see the job running.
TRAIN = """
import json, os, time
time.sleep(4)
json.dump({"label": "no"}, open(os.path.join(os.environ["GRADER_ARTIFACTS_DIR"], "model.json"), "w"))
"""


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """tests/queue's redis-server (its fixtures are that folder's own)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def processes() -> Iterator[Processes]:
    found = Processes()
    yield found
    found.end()


def follow(service: Service, submission_id: str, token: str, until: str, within: float = 120.0) -> list[dict]:
    """Every answer for the submission until its status is ``until``."""
    seen: list[dict] = []
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body = service.get(f"/api/submissions/{submission_id}", token).json()
        seen.append(body)
        if body["status"] == until:
            return seen
        assert body["status"] in ("queued", "running"), body
        time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} not {until} within {within} s: {seen[-1:]}; "
                         f"{service.log_text()[-3000:]}")


def test_a_submission_waits_for_a_worker_then_is_graded_by_it(
        tmp_path: Path, quick_tasks: Path, redis_server: RedisServer, processes: Processes) -> None:
    service = Service(data=tmp_path / "service", tasks=quick_tasks, queue=redis_server.url)
    service.start()
    try:
        token = service.invite(service.assessment(attempts="1"), "Ada")
        reviewer = service.interviewer("Grace")
        queue = service.get("/api/queue", reviewer).json()
        assert (queue["mode"], queue["workers"], queue["waiting"]) == ("queue", 0, 0)

        accepted = service.upload(token, zipped(make_submission(tmp_path / "ada", train=TRAIN)))
        assert accepted.status_code == 202, accepted.text
        submission_id = accepted.json()["id"]
        # No worker yet: it is handed to the queue and waits there, saying so.
        waiting = follow(service, submission_id, token, "queued", within=5)[-1]
        deadline = time.monotonic() + 30
        while "waiting in the queue for a grader worker" not in waiting["reason"]:
            assert time.monotonic() < deadline, waiting
            time.sleep(0.2)
            waiting = service.get(f"/api/submissions/{submission_id}", token).json()
        assert waiting["status"] == "queued" and waiting["position"] == 1
        assert f"(job svc-{submission_id}-1)" in waiting["reason"]
        assert "no worker is listening to the queue right now" in waiting["reason"], waiting["reason"]
        assert "grader worker --queue URL" in waiting["reason"]
        assert service.get("/api/queue", reviewer).json()["waiting"] == 1

        env = {**os.environ, "GRADER_TASKS_DIR": str(quick_tasks)}
        processes.start("worker", "--queue", redis_server.url, "--name", "svc-worker", "--no-mlflow", env=env,
                        log=tmp_path / "worker.log")

        running = follow(service, submission_id, token, "running", within=120)[-1]
        assert running["reason"].startswith("grading on worker svc-worker"), running
        assert running["phase"] and "(attempt 1 of" in running["phase"], running
        queue = service.get("/api/queue", reviewer).json()
        assert queue["mode"] == "queue" and queue["workers"] >= 1 and queue["running"] == 1

        answers = follow(service, submission_id, token, "graded", within=240)
        phases = {a["phase"] for a in answers if a["status"] == "running"}
        assert any(p and "train" in p for p in phases), phases  # the worker's phases reach the server
        body = service.wait(submission_id, token)
        assert body["status"] == "graded" and body["tries"] == 1 and body["attempt"] == 1
        assert body["reason"].startswith("graded: not passed"), body["reason"]
        statuses = [e["status"] for e in body["events"]]
        assert statuses[-2:] == ["running", "graded"] and set(statuses[:-2]) == {"queued"}, statuses
        # Its history says it waited with no worker, then with one (said once each, not every round).
        waits = [e["message"] for e in body["events"] if e["message"].startswith("waiting in the queue")]
        assert "no worker is listening" in waits[0] and len(waits) <= 2, waits
        assert set(body["report_files"]) >= {"report.json", "report.html", "report.md", "junit.xml"}
        report = service.get(f"/api/submissions/{submission_id}/report.json", token).json()
        assert report["status"] == "graded"
        assert report["environment"]["queue"]["job_id"] == f"svc-{submission_id}-1"
        assert report["environment"]["queue"]["worker"] == "svc-worker"
        assert not [p for p in (service.data / "submissions").iterdir() if p.name.startswith(".")]
        queue = service.get("/api/queue", reviewer).json()
        assert queue["mode"] == "queue" and queue["workers"] >= 1
        assert (queue["waiting"], queue["running"], queue["by_status"]) == (0, 0, {"graded": 1})
    finally:
        service.kill()
