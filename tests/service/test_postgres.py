"""``grader serve --db postgresql://...`` on a throwaway PostgreSQL cluster, with the Docker sandbox: the admin
commands work on the same database, a submission is graded end to end, and a restart keeps everything (the
Store's own tests run on PostgreSQL too: tests/service/test_store.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from grader.service.db import engine_for
from tests.service.conftest import PostgresCluster, Service

pytestmark = [pytest.mark.postgres, pytest.mark.docker, pytest.mark.slow]


@pytest.fixture()
def pg_service(tmp_path: Path, quick_tasks: Path, postgres: PostgresCluster) -> Iterator[Service]:
    found = Service(data=tmp_path / "service", tasks=quick_tasks, db=postgres.database())
    found.start()
    yield found
    found.kill()


def test_the_service_on_postgresql_grades_and_keeps_everything_across_a_restart(
        pg_service: Service, mini_zip: bytes) -> None:
    service = pg_service
    assert service.db is not None
    assessment_id = service.assessment(title="On PostgreSQL", attempts="2")
    token = service.invite(assessment_id, "Ada")
    reviewer = service.interviewer("Grace")

    accepted = service.upload(token, mini_zip)
    assert accepted.status_code == 202, accepted.text
    submission_id = accepted.json()["id"]
    body = service.wait(submission_id, token)
    assert body["status"] == "graded", body
    assert [e["status"] for e in body["events"]] == ["queued", "running", "graded"]
    assert "report.json" in body["report_files"]

    # Everything is in PostgreSQL, nothing in a SQLite file beside the data.
    assert not (service.data / "grader.db").exists()
    engine = engine_for(service.db)
    try:
        with engine.connect() as connection:
            assert connection.dialect.name == "postgresql"
            assert connection.execute(text("SELECT status FROM submissions WHERE id = :id"),
                                      {"id": submission_id}).scalar_one() == "graded"
            assert connection.execute(text("SELECT count(*) FROM submission_events")).scalar_one() == 3
    finally:
        engine.dispose()
    listing = service.admin("list")
    assert [(a["id"], a["title"]) for a in listing["assessments"]] == [(assessment_id, "On PostgreSQL")]
    [candidate] = listing["assessments"][0]["candidates"]
    assert candidate["name"] == "Ada"
    assert [(s["id"], s["status"]) for s in candidate["submissions"]] == [(submission_id, "graded")]
    assert [p["name"] for p in listing["interviewers"]] == ["Grace"]

    service.kill()
    service.start()

    again = service.get(f"/api/submissions/{submission_id}", token).json()
    assert {k: again[k] for k in ("status", "score", "reason", "tries", "attempt")} == \
        {k: body[k] for k in ("status", "score", "reason", "tries", "attempt")}
    assert [e["message"] for e in again["events"]] == [e["message"] for e in body["events"]]
    assert service.get(f"/api/submissions/{submission_id}/report.json", token).status_code == 200
    assert service.get("/api/me", reviewer).json()["kind"] == "interviewer"
    cohort = service.get(f"/api/assessments/{assessment_id}/submissions", reviewer).json()
    assert [(s["id"], s["status"]) for s in cohort] == [(submission_id, "graded")]
    assert service.admin("list") == listing

    # The restarted server takes and grades the candidate's second attempt; the third is refused.
    home = service.get("/api/me", token).json()["home"]
    assert (home["attempts_used"], home["attempts_left"]) == (1, 1)
    second = service.upload(token, mini_zip)
    assert second.status_code == 202, second.text
    assert service.wait(second.json()["id"], token)["status"] == "graded"
    third = service.upload(token, mini_zip)
    assert third.status_code == 409, third.text
    queue = service.get("/api/queue", reviewer).json()
    assert queue["mode"] == "local" and queue["by_status"] == {"graded": 2}
