"""The dispatcher's retry logic, in-process on a real SQLite store: a grading that fails for the grader's own
reasons (an ``error`` report, or the grader raising) is graded again up to ``max_tries`` times and never
counts against the candidate; a candidate's invalid submission is not retried; a stop hands the running
grading back, and the next dispatcher grades it once. Only the grader is a stand-in, scripted to fail or
succeed: everything around it (store, threads, report folders) is the real thing."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grader.grading.batch import error_report
from grader.report.write import write_reports
from grader.service.config import ServiceConfig, upload_name
from grader.service.db import Submission
from grader.service.runner import Dispatcher
from grader.service.state import State
from grader.service.store import TERMINAL, Principal, Store
from grader.service.tokens import new_id
from grader.spec.report import Report, SubmissionRef, TaskRef

TASK = "tabular/credit-default"
INFRA = "the Docker engine went away (connection refused)"


class _Sandbox:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


@dataclass
class Script:
    """What the stand-in graders do, one step per grading, in order, shared by every worker: ``error`` (an
    infrastructure failure's report), ``raise`` (a bug in the grader), ``invalid``, ``graded``, or ``block``
    (graded once :attr:`release` is set)."""

    steps: list[str]
    calls: list[tuple[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    blocked: threading.Event = field(default_factory=threading.Event)
    graders: list[FakeGrader] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def make(self, progress: Callable[[str], None]) -> Any:
        grader = FakeGrader(self, progress)
        self.graders.append(grader)
        return grader

    def next(self) -> str:
        with self.lock:
            return self.steps.pop(0) if self.steps else "graded"


@dataclass
class FakeGrader:
    script: Script
    progress: Callable[[str], None]
    sandbox: _Sandbox = field(default_factory=_Sandbox)

    def grade(self, path: Path, *, task_id: str, out_dir: Path, candidate: str, origin: str) -> Report:
        assert path.is_file(), "the dispatcher hands the stored upload to the grader"
        step = self.script.next()
        self.script.calls.append((path.parent.name, step))
        self.progress(f"training ({step})")
        if step == "raise":
            raise RuntimeError("a bug in the grader")
        if step == "error":
            return error_report(out_dir, origin, candidate, task_id, INFRA)
        if step == "invalid":
            return error_report(out_dir, origin, candidate, task_id, "submission.yaml is missing", invalid=True)
        if step == "block":
            self.script.blocked.set()
            assert self.script.release.wait(timeout=30)
        report = Report(status="graded", passed=True, score=85.0, task=TaskRef(id=task_id),
                        submission=SubmissionRef(path=origin, candidate=candidate))
        write_reports(report, out_dir)
        return report


@dataclass
class Setup:
    """The service's state on SQLite, a candidate of a one-attempt assessment, and the dispatchers started."""

    state: State
    who: Principal | None = None
    dispatchers: list[Dispatcher] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def config(self) -> ServiceConfig:
        return self.state.config

    def invite(self, attempts: int | None) -> Principal:
        """A candidate of a new assessment of ``attempts`` attempts."""
        assessment = self.store.create_assessment(TASK, "Take-home", deadline=None, attempts=attempts,
                                                  max_upload_bytes=10**6, known_tasks=[TASK])
        _, token = self.store.invite(assessment.id, "Ada")
        who = self.store.principal(token)
        assert who is not None
        return who

    def submit(self, who: Principal | None = None) -> Submission:
        submission_id = new_id()
        folder = self.config.submission_dir(submission_id)
        folder.mkdir(parents=True)
        (folder / upload_name("submission.zip")).write_bytes(b"PK\x05\x06" + b"\0" * 18)
        return self.store.add_submission(submission_id, who or self.who, filename="submission.zip", size_bytes=22,
                                         sha256=None)

    def start(self, script: Script, **config: Any) -> Dispatcher:
        dispatcher = Dispatcher(self.store, ServiceConfig(**{**vars(self.config), **config}), make_grader=script.make)
        self.dispatchers.append(dispatcher)
        dispatcher.start()
        dispatcher.wake()
        return dispatcher

    def attempts_used(self) -> int:
        assert self.who is not None
        return self.store.attempts_used(self.who.id)

    def wait(self, submission_id: str, until: tuple[str, ...] = TERMINAL, within: float = 30.0) -> Submission:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            row = self.store.submission(submission_id)
            if row.status in until:
                return row
            time.sleep(0.02)
        raise AssertionError(f"submission {submission_id} still {self.store.submission(submission_id).status}")

    def events(self, submission_id: str) -> list[tuple[str, str]]:
        return [(e.status, e.message) for e in self.store.events(submission_id)]


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[Setup]:
    config = ServiceConfig(data=tmp_path / "service", mlflow=False, poll_s=0.02, grading_timeout_s=120.0)
    found = Setup(State.open(config))
    found.who = found.invite(attempts=1)
    yield found
    for dispatcher in found.dispatchers:
        dispatcher.stop()
    found.store.engine.dispose()


def report_json(setup: Setup, submission_id: str) -> dict[str, Any]:
    return json.loads((setup.config.report_dir(submission_id) / "report.json").read_text())


def test_an_infrastructure_failure_is_graded_again_and_not_counted(setup: Setup) -> None:
    script = Script(["error", "graded"])
    setup.start(script)
    row = setup.submit()

    done = setup.wait(row.id)
    assert (done.status, done.tries, done.number, done.score, done.passed) == ("graded", 2, 1, 85.0, True)
    assert done.reason == "graded: passed, 85 / 100"
    assert script.calls == [(row.id, "error"), (row.id, "graded")]
    events = setup.events(row.id)
    assert [s for s, _ in events] == ["queued", "running", "queued", "running", "graded"]
    retried = events[2][1]
    assert retried.startswith("try 1 of 3 failed for the grader's own reasons") and INFRA in retried
    assert "does not count against your attempts" in retried
    assert events[3][1].endswith("try 2")
    assert report_json(setup, row.id)["status"] == "graded"  # the failed try's report is gone
    assert setup.attempts_used() == 1


def test_a_grader_that_raises_is_an_infrastructure_failure_too(setup: Setup) -> None:
    script = Script(["raise", "graded"])
    setup.start(script)
    row = setup.submit()

    done = setup.wait(row.id)
    assert (done.status, done.tries) == ("graded", 2)
    assert "RuntimeError: a bug in the grader" in setup.events(row.id)[2][1]


def test_after_max_tries_infrastructure_failures_the_submission_is_an_error_that_does_not_count(
        setup: Setup) -> None:
    script = Script(["error", "error", "error", "error"])
    setup.start(script)
    row = setup.submit()

    done = setup.wait(row.id)
    assert (done.status, done.tries, done.outcome, done.passed, done.owner) == ("error", 3, "error", False, None)
    assert done.reason.startswith(f"grader error on 3 of 3 tries: {INFRA}")
    assert "does not count against your attempts" in done.reason
    assert [step for _, step in script.calls] == ["error"] * 3  # never a fourth
    assert [s for s, _ in setup.events(row.id)] == ["queued", "running", "queued", "running", "queued", "running",
                                                   "error"]
    failures = report_json(setup, row.id)["failures"]
    assert [(f["kind"], f["message"]) for f in failures] == [("sandbox_error", INFRA)]
    # The one attempt of the assessment is still the candidate's.
    assert setup.attempts_used() == 0
    assert setup.submit().number == 2


def test_max_tries_is_the_configured_one(setup: Setup) -> None:
    script = Script(["error", "error", "graded"])
    setup.start(script, max_tries=2)
    row = setup.submit()

    done = setup.wait(row.id)
    assert (done.status, done.tries) == ("error", 2)
    assert done.reason.startswith("grader error on 2 of 2 tries")


def test_an_invalid_submission_is_the_candidates_and_not_retried(setup: Setup) -> None:
    script = Script(["invalid", "graded"])
    setup.start(script)
    row = setup.submit()

    done = setup.wait(row.id)
    assert (done.status, done.tries) == ("invalid", 1)
    assert "submission.yaml is missing" in done.reason
    assert len(script.calls) == 1
    assert setup.attempts_used() == 1


def test_a_stop_hands_the_grading_back_and_the_next_dispatcher_grades_it_once(setup: Setup) -> None:
    script = Script(["block"])
    first = setup.start(script)
    row = setup.submit()
    assert script.blocked.wait(timeout=30)
    assert setup.store.submission(row.id).phase == "training (block)"

    stopping = threading.Thread(target=first.stop)
    stopping.start()
    setup.wait(row.id, until=("queued",))
    script.release.set()  # the stopped server's grading ends after all: its result is not used
    stopping.join(timeout=30)
    assert not stopping.is_alive()
    assert all(g.sandbox.closed for g in script.graders)
    released = setup.store.submission(row.id)
    assert (released.status, released.owner) == ("queued", None)
    assert "server stopped during the grading" in released.reason

    second = Script(["graded"])
    setup.start(second)
    done = setup.wait(row.id)
    assert (done.status, done.tries) == ("graded", 2)
    assert [s for s, _ in setup.events(row.id)] == ["queued", "running", "queued", "running", "graded"]
    assert setup.attempts_used() == 1


class LateClaims(Store):
    """The store, its claims held at the door while :attr:`door` is shut: a claim that began just before the
    server was told to stop lands after the stop released what it ran."""

    def __init__(self, store: Store) -> None:
        super().__init__(store.engine)
        self.door = threading.Event()
        self.waiting = threading.Event()

    def claim(self, owner: str, **kwargs: Any) -> Submission | None:
        self.waiting.set()
        assert self.door.wait(timeout=30)
        return super().claim(owner, **kwargs)


def test_a_grading_claimed_while_the_server_stops_is_handed_back_too(setup: Setup) -> None:
    late = LateClaims(setup.store)
    script = Script(["graded"])
    dispatcher = Dispatcher(late, setup.config, make_grader=script.make)
    dispatcher.start()
    assert late.waiting.wait(timeout=30)  # a worker is at the door...
    row = setup.submit()  # ...when a submission arrives
    stopping = threading.Thread(target=dispatcher.stop)
    stopping.start()
    deadline = time.monotonic() + 10
    while not dispatcher._stop.is_set():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.5)  # the stop has released what this server ran: nothing yet
    late.door.set()
    stopping.join(timeout=30)
    assert not stopping.is_alive()

    row = setup.store.submission(row.id)
    assert (row.status, row.owner) == ("queued", None), row.reason  # not left running for a dead server
    assert "server stopped during the grading" in row.reason


def test_a_dead_servers_grading_is_taken_back_at_start(setup: Setup) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    row = setup.submit()
    claimed = setup.store.claim("dead-server", deadline_s=lambda _: 3600.0)
    assert claimed is not None
    with setup.store.session() as s:
        s.execute(update(Submission).where(Submission.id == row.id)
                  .values(heartbeat_at=datetime.now(UTC) - timedelta(minutes=5)))

    setup.start(Script(["graded"]))
    done = setup.wait(row.id)
    assert (done.status, done.tries) == ("graded", 2)
    events = setup.events(row.id)
    assert [s for s, _ in events] == ["queued", "running", "queued", "running", "graded"]
    assert "(dead-server) stopped reporting" in events[2][1]


def test_two_dispatchers_on_one_database_grade_each_submission_once(setup: Setup) -> None:
    script = Script([])
    setup.start(script, workers=2)
    setup.start(script, workers=2)
    who = setup.invite(attempts=None)
    rows = [setup.submit(who) for _ in range(12)]
    for row in rows:
        done = setup.wait(row.id)
        assert (done.status, done.tries) == ("graded", 1)
        assert [s for s, _ in setup.events(row.id)] == ["queued", "running", "graded"]
    assert sorted(i for i, _ in script.calls) == sorted(r.id for r in rows)


# -- the queue (--queue): handing gradings to `grader worker` ----------------------------------------------------

@pytest.fixture()
def redis_url(tmp_path: Path) -> Iterator[str]:
    from tests.queue.conftest import RedisServer

    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server.url
    server.stop()


@pytest.mark.redis
def test_an_upload_the_queue_cannot_take_is_an_error_and_the_others_are_still_enqueued(
        redis_url: str, setup: Setup, tmp_path: Path) -> None:  # Redis first: it stops after the dispatcher
    """An upload that cannot be packed for the queue (here: damaged on disk after it was accepted) ends as the
    grader's error, saying why; it does not hold up the submissions behind it."""
    from tests.helpers import make_submission
    from tests.service.conftest import zipped

    who = setup.invite(attempts=None)
    damaged, fine = setup.submit(who), setup.submit(who)
    setup.config.upload_path(damaged).write_bytes(b"not a zip any more")
    zipped(make_submission(tmp_path / "fine"), setup.config.upload_path(fine))
    setup.start(Script([]), queue=redis_url)

    handed = setup.wait(fine.id, until=("queued",))
    deadline = time.monotonic() + 30
    while handed.job_id is None:
        assert time.monotonic() < deadline, "the good submission was never handed to the queue"
        time.sleep(0.05)
        handed = setup.store.submission(fine.id)
    assert handed.reason.startswith(f"waiting in the queue for a grader worker (job svc-{fine.id}-1)")
    assert "no worker is listening to the queue right now" in handed.reason  # none was started here
    failed = setup.wait(damaged.id)
    assert (failed.status, failed.job_id, failed.outcome) == ("error", None, "error")
    assert "could not be handed to the queue" in failed.reason and "not a readable .zip" in failed.reason
    assert "does not count against your attempts" in failed.reason
    assert [s for s, _ in setup.events(damaged.id)] == ["queued", "error"]


# -- how long a dead server's gradings wait: GRADER_SERVICE_STALE_AFTER_S ----------------------------------------

@pytest.mark.parametrize(("value", "message"), [
    ("soon", "GRADER_SERVICE_STALE_AFTER_S='soon' is not a number of seconds"),
    ("3", "cannot be taken back from its server after 3 s: its server reports every 5 s"),
])
def test_grader_serve_refuses_a_stale_time_it_cannot_keep(tmp_path: Path, value: str, message: str) -> None:
    from click.testing import CliRunner

    from grader.cli import main

    result = CliRunner().invoke(main, ["serve", "--data", str(tmp_path / "service"), "--port", "0"],
                                env={"GRADER_SERVICE_STALE_AFTER_S": value, "COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "service").exists()  # refused before anything started


def test_the_stale_time_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from grader.cli.serve import stale_after_s
    from grader.service.config import STALE_AFTER_S

    monkeypatch.delenv("GRADER_SERVICE_STALE_AFTER_S", raising=False)
    assert stale_after_s() is None and ServiceConfig(data=Path("x")).stale_after_s == STALE_AFTER_S == 30.0
    monkeypatch.setenv("GRADER_SERVICE_STALE_AFTER_S", "12.5")
    assert stale_after_s() == 12.5


def test_a_server_of_this_machine_is_known_dead_by_its_pid() -> None:
    """What lets a restarted server take a killed one's gradings back at once, without the stale time."""
    import socket
    import subprocess

    from grader.service.runner import _dead_here

    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    assert _dead_here(f"{host}:{gone.pid}:abc")
    assert not _dead_here(f"{host}:{os.getpid()}:abc")  # this very server
    assert not _dead_here(f"{host}:1:abc")  # alive (init)
    assert not _dead_here(f"another-{host}:{gone.pid}:abc")  # another machine's: only its heartbeat tells
    assert not _dead_here("job svc-1-1") and not _dead_here(f"{host}:x:abc")


def test_an_upload_the_service_lost_is_its_error_not_the_candidates(setup: Setup) -> None:
    """A stored upload gone from the disk (a restore gone wrong): an `error` after every try, never an
    `invalid` submission charged to the candidate, and the grader never sees it."""
    row = setup.submit()
    setup.config.upload_path(row).unlink()
    script = Script([])
    setup.start(script)
    done = setup.wait(row.id)
    assert (done.status, done.tries) == ("error", 3), done.reason
    assert "the stored upload" in done.reason and "is missing" in done.reason
    assert "does not count against your attempts" in done.reason
    assert script.calls == [] and setup.attempts_used() == 0
