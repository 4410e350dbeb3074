"""A real ``grader serve`` stopped in the middle of a grading, and started again on the same data: killed
outright (SIGKILL of its whole process group: nothing of it runs on), or stopped cleanly (SIGTERM). Either
way the grading is taken up again and ends exactly once, the history says why it was graded again, and the
candidate's attempt is still the one. And the reaper: a grading past ``--grading-timeout`` is moved to
``error`` saying why, and the candidate keeps the attempt."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from grader.service.config import HEARTBEAT_S
from tests.helpers import make_submission
from tests.service.conftest import Service, zipped

pytestmark = [pytest.mark.docker, pytest.mark.slow]

#: What the killed server's gradings wait for before another server takes them back (at least 10 s: two
#: of a live server's heartbeats); the default, 30 s, would only make the test longer.
STALE_AFTER_S = 10

#: A training that is still running when the server is stopped.
SLOW_TRAIN = """
import json, os, time
time.sleep({seconds})
json.dump({{"label": "no"}}, open(os.path.join(os.environ["GRADER_ARTIFACTS_DIR"], "model.json"), "w"))
"""


def slow_zip(folder: Path, seconds: float) -> bytes:
    return zipped(make_submission(folder, train=SLOW_TRAIN.format(seconds=seconds)))


@pytest.fixture()
def server(tmp_path: Path, quick_tasks: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Service]:
    """A ``grader serve`` whose killed gradings are taken back after :data:`STALE_AFTER_S`; not started."""
    monkeypatch.setenv("GRADER_SERVICE_STALE_AFTER_S", str(STALE_AFTER_S))
    found = Service(data=tmp_path / "service", tasks=quick_tasks)
    yield found
    found.kill()


def wait_for_phase(service: Service, submission_id: str, token: str, word: str, within: float = 120.0) -> dict:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        body = service.get(f"/api/submissions/{submission_id}", token).json()
        assert body["status"] in ("queued", "running"), body
        if body["status"] == "running" and word in (body["phase"] or ""):
            return body
        time.sleep(0.2)
    raise AssertionError(f"submission {submission_id} not in a phase with {word!r} within {within} s")


def admin_status(service: Service, submission_id: str) -> str:
    """A submission's status as `grader admin list` reads it from the database (the server may be down)."""
    listing = service.admin("list")
    return next(s["status"] for a in listing["assessments"] for c in a["candidates"] for s in c["submissions"]
                if s["id"] == submission_id)


def training(server: Service, tmp_path: Path) -> tuple[str, str]:
    """Start the server, have a candidate of a one-attempt assessment hand in a slow training, and wait until
    it trains: the candidate's token and the submission's id."""
    server.start()
    token = server.invite(server.assessment(attempts="1"), "Ada")
    accepted = server.upload(token, slow_zip(tmp_path / "slow", 6))
    assert accepted.status_code == 202, accepted.text
    submission_id = accepted.json()["id"]
    wait_for_phase(server, submission_id, token, "training")
    return token, submission_id


def graded_once(service: Service, body: dict[str, Any], token: str) -> list[tuple[str, str]]:
    """The grading ended once, graded, as the candidate's first attempt with its report: its history."""
    events = [(e["status"], e["message"]) for e in body["events"]]
    assert body["status"] == "graded", body
    assert [s for s, _ in events if s in ("graded", "invalid", "error")] == ["graded"]
    assert body["attempt"] == 1 and body["tries"] == 2
    assert set(body["report_files"]) >= {"report.json", "report.html", "report.md", "junit.xml"}
    report = service.get(f"/api/submissions/{body['id']}/report.json", token)
    assert report.status_code == 200 and report.json()["status"] == "graded"
    home = service.get("/api/me", token).json()["home"]
    assert home["attempts_used"] == 1 and home["attempts_left"] == 0
    assert [s["id"] for s in home["submissions"]] == [body["id"]]
    return events


def test_a_server_killed_mid_grading_grades_it_again_once_after_a_restart(
        server: Service, tmp_path: Path) -> None:
    token, submission_id = training(server, tmp_path)

    server.kill()
    assert admin_status(server, submission_id) == "running"  # nobody has settled it: its server is just gone
    restarted_at = datetime.now(UTC)
    server.start()
    body = server.wait(submission_id, token, until=("graded", "invalid", "error"), within=240)

    events = graded_once(server, body, token)
    assert [s for s, _ in events] == ["queued", "running", "queued", "running", "graded"]
    taken_back = events[2][1]
    assert "was gone when this one started" in taken_back, taken_back
    assert "queued to be graded again from the start" in taken_back
    assert "does not count against your attempts" in taken_back
    # The dead server was of this machine: taken back as the new one starts, without waiting the stale time.
    taken_at = datetime.fromisoformat(body["events"][2]["at"])
    after = (taken_at - restarted_at).total_seconds()
    assert after < STALE_AFTER_S - HEARTBEAT_S, f"taken back {after:.1f} s after the restart"
    assert "a server of this machine that is gone" in server.log_text().split("--- start 2")[1]


def test_a_server_killed_on_another_machine_has_its_gradings_taken_back_after_the_stale_time(
        server: Service, tmp_path: Path) -> None:
    """Another machine's server (another host name in its owner) cannot be looked up: its gradings wait for
    its heartbeat to go stale, then any server queues them again."""
    import sqlite3

    token, submission_id = training(server, tmp_path)
    server.kill()
    with sqlite3.connect(server.data / "grader.db") as db:  # as if a server elsewhere had been grading it
        db.execute("update submissions set owner = 'elsewhere:1:abc' where id = ?", (submission_id,))
    killed_at = datetime.now(UTC)
    server.start()
    body = server.wait(submission_id, token, within=STALE_AFTER_S + 240)

    events = graded_once(server, body, token)
    taken_back = events[2][1]
    assert "elsewhere:1:abc" in taken_back and "stopped reporting" in taken_back and "training" in taken_back
    taken_at = datetime.fromisoformat(body["events"][2]["at"])
    after = (taken_at - killed_at).total_seconds()
    assert STALE_AFTER_S - HEARTBEAT_S - 1 <= after <= STALE_AFTER_S + 15, f"taken back {after:.1f} s after the kill"


def test_a_server_stopped_cleanly_mid_grading_hands_it_back_and_grades_it_once_after_a_restart(
        server: Service, tmp_path: Path) -> None:
    token, submission_id = training(server, tmp_path)

    stopping = time.monotonic()
    server.stop()
    # uvicorn shuts down, then re-raises the SIGTERM it caught: a clean stop ends "killed by SIGTERM".
    assert server.process is not None and server.process.returncode in (0, -signal.SIGTERM), server.log_text()[-3000:]
    assert "Application shutdown complete" in server.log_text()
    assert time.monotonic() - stopping < 30, "a clean stop should not wait for the grading"
    assert admin_status(server, submission_id) == "queued"  # handed back on the way out
    assert "queued again 1 running grading(s) on the way out" in server.log_text()
    server.start()
    body = server.wait(submission_id, token)

    events = graded_once(server, body, token)
    assert [s for s, _ in events] == ["queued", "running", "queued", "running", "graded"]
    released = events[2][1]
    assert released.startswith("the server stopped during the grading; queued to be graded again"), released
    assert "does not count against your attempts" in released


def test_the_reaper_moves_a_stuck_grading_to_error_and_the_attempt_stays_the_candidates(
        tmp_path: Path, quick_tasks: Path) -> None:
    server = Service(data=tmp_path / "service", tasks=quick_tasks, extra=["--grading-timeout", "3"])
    server.start()
    try:
        token = server.invite(server.assessment(attempts="1"), "Ada")
        accepted = server.upload(token, slow_zip(tmp_path / "stuck", 60))
        assert accepted.status_code == 202, accepted.text
        submission_id = accepted.json()["id"]
        started = time.monotonic()
        body = server.wait(submission_id, token, within=60)
        assert time.monotonic() - started < 30, "reaped long after its deadline"

        assert body["status"] == "error" and body["outcome"] == "error", body
        reason = body["reason"]
        assert reason.startswith("stuck: running since "), reason
        assert "no result after 3 s" in reason and "its deadline" in reason
        assert body["started_at"][:19].replace("T", " ") in reason  # since when
        assert "it was last in '" in reason and "training" in reason  # in which phase
        assert "does not count against your attempts" in reason
        assert [e["status"] for e in body["events"]] == ["queued", "running", "error"]
        assert body["phase"] is None

        home = server.get("/api/me", token).json()["home"]
        assert (home["attempts_used"], home["attempts_left"], home["open"]) == (0, 1, True)
        again = server.upload(token, zipped(make_submission(tmp_path / "again")))
        assert again.status_code == 202, again.text
        assert server.get("/api/me", token).json()["home"]["attempts_used"] == 1
        # The reaped grading's sandbox was closed, so the only worker takes the next one now, not once the
        # stuck training (60 s) would have ended.
        reaped_at = time.monotonic()
        server.wait(again.json()["id"], token, until=("running", "graded", "invalid", "error"), within=60)
        assert time.monotonic() - reaped_at < 25, "the worker stayed busy with the reaped grading"
        assert server.get(f"/api/submissions/{submission_id}", token).json()["status"] == "error"
    finally:
        server.stop()  # a clean stop: the stuck grading's containers go with its sandbox
        server.kill()
