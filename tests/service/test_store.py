"""The service's store on a real database (SQLite in a temporary folder; PostgreSQL too where its binaries are):
a grading is claimed by one server only, settled by its owner only and once, taken back from a server that
stopped reporting, reaped past its deadline; the grader's own errors never count against the attempts;
the schema is migrated once; tokens are kept only as their SHA-256."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from grader.service.config import ServiceConfig
from grader.service.db import Candidate, Interviewer, Submission, engine_for, migrate, tables
from grader.service.errors import AttemptsUsed, Forbidden
from grader.service.state import State
from grader.service.store import Principal, Store
from grader.service.tokens import new_id

TASK = "tabular/credit-default"
TABLES = {"assessments", "candidates", "interviewers", "submissions", "submission_events", "alembic_version"}


def no_deadline(_assessment_id: str) -> float:
    return 3600.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db' / 'grader.db'}"
    return request.getfixturevalue("postgres").database()


@dataclass
class Opened:
    """The stores of a test: ``open()`` gives another one on the same database, as a second server has."""

    url: str
    data: Path
    stores: list[Store]

    def open(self) -> Store:
        store = State.open(ServiceConfig(data=self.data, db=self.url)).store
        self.stores.append(store)
        return store


@pytest.fixture()
def opened(db_url: str, tmp_path: Path) -> Iterator[Opened]:
    found = Opened(db_url, tmp_path / "data", [])
    yield found
    for store in found.stores:
        store.engine.dispose()


@pytest.fixture()
def store(opened: Opened) -> Store:
    return opened.open()


def candidate(store: Store, *, attempts: int | None = None, deadline: datetime | None = None,
              name: str = "Ada") -> tuple[Principal, str]:
    """A candidate invited to a new assessment, as the store knows them by their token; and the token."""
    assessment = store.create_assessment(TASK, "Take-home", deadline=deadline, attempts=attempts,
                                         max_upload_bytes=10**6, known_tasks=[TASK])
    _, token = store.invite(assessment.id, name)
    principal = store.principal(token)
    assert principal is not None and principal.kind == "candidate"
    return principal, token


def submit(store: Store, who: Principal) -> Submission:
    return store.add_submission(new_id(), who, filename="submission.zip", size_bytes=123, sha256="0" * 64)


def statuses(store: Store, submission_id: str) -> list[str]:
    return [e.status for e in store.events(submission_id)]


# -- the schema and the tokens ---------------------------------------------------------------------------

def test_migrations_create_every_table_and_a_second_run_changes_nothing(db_url: str) -> None:
    engine = engine_for(db_url)
    try:
        assert tables(engine) == set()
        migrate(engine)
        assert tables(engine) == TABLES
        with engine.connect() as connection:
            first = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        migrate(engine)  # what every start and every `grader admin` does
        assert tables(engine) == TABLES
        with engine.connect() as connection:
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == first
        assert first == ["0001"]
    finally:
        engine.dispose()


def test_tokens_are_stored_only_as_their_sha256(store: Store, opened: Opened) -> None:
    who, token = candidate(store)
    interviewer, interviewer_token = store.create_interviewer("Grace")
    with store.session() as s:
        assert s.scalar(select(Candidate.token_hash).where(Candidate.id == who.id)) == \
            hashlib.sha256(token.encode()).hexdigest()
        assert s.scalar(select(Interviewer.token_hash).where(Interviewer.id == interviewer.id)) == \
            hashlib.sha256(interviewer_token.encode()).hexdigest()
        everything = " ".join(str(value) for table in TABLES
                              for row in s.execute(text(f"SELECT * FROM {table}")) for value in row)  # noqa: S608
    for secret in (token, interviewer_token):
        assert secret not in everything
        assert secret.split("_", 1)[1] not in everything  # not even without its prefix
    if opened.url.startswith("sqlite"):  # nor anywhere in the file (or its write-ahead log)
        folder = Path(opened.url.removeprefix("sqlite:///")).parent
        raw = b"".join(path.read_bytes() for path in folder.iterdir())
        assert token.encode() not in raw and interviewer_token.encode() not in raw
    assert store.principal(token) == who
    assert store.principal(hashlib.sha256(token.encode()).hexdigest()) is None  # the hash opens nothing


# -- claiming and settling ----------------------------------------------------------------------------------

def test_one_queued_grading_is_claimed_by_one_server_only(opened: Opened) -> None:
    first, second = opened.open(), opened.open()
    row = submit(first, candidate(first)[0])

    claimed = first.claim("server-a", deadline_s=no_deadline)
    assert claimed is not None and claimed.id == row.id
    assert (claimed.status, claimed.owner, claimed.tries, claimed.phase) == ("running", "server-a", 1, "starting")
    assert second.claim("server-b", deadline_s=no_deadline) is None
    assert first.claim("server-a", deadline_s=no_deadline) is None
    assert second.submission(row.id).owner == "server-a"
    assert statuses(second, row.id) == ["queued", "running"]


@pytest.mark.parametrize("rows", [1, 6])
def test_servers_claiming_at_once_from_threads_never_share_a_grading(opened: Opened, rows: int) -> None:
    """Eight servers (each its own engine, as separate processes have) claim as fast as they can: every
    queued grading is claimed exactly once."""
    setup = opened.open()
    who = candidate(setup)[0]
    ids = {submit(setup, who).id for _ in range(rows)}
    servers = [opened.open() for _ in range(8)]
    start = threading.Barrier(len(servers))
    claimed: list[tuple[str, str]] = []
    failures: list[BaseException] = []

    def server(index: int, store: Store) -> None:
        try:
            start.wait(timeout=30)
            while (row := store.claim(f"server-{index}", deadline_s=no_deadline)) is not None:
                claimed.append((row.id, f"server-{index}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=server, args=(i, s)) for i, s in enumerate(servers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert sorted(i for i, _ in claimed) == sorted(ids)  # each once, none left
    for submission_id, owner in claimed:
        row = setup.submission(submission_id)
        assert (row.status, row.owner, row.tries) == ("running", owner, 1)
        assert statuses(setup, submission_id) == ["queued", "running"]


def test_only_the_owner_settles_a_grading_and_only_once(opened: Opened) -> None:
    mine, theirs = opened.open(), opened.open()
    row = submit(mine, candidate(mine)[0])
    assert mine.claim("server-a", deadline_s=no_deadline) is not None

    assert not theirs.finish(row.id, "server-b", "graded", "graded by the wrong server", outcome="passed",
                             score=90.0, passed=True)
    assert not theirs.retry(row.id, "server-b", "retried by the wrong server")
    assert theirs.release("server-b", "released by the wrong server") == 0
    assert not theirs.set_phase(row.id, "server-b", "training")
    assert mine.submission(row.id).status == "running"

    assert mine.set_phase(row.id, "server-a", "training")
    assert mine.finish(row.id, "server-a", "graded", "graded: passed", outcome="passed", score=90.0, passed=True)
    assert not mine.finish(row.id, "server-a", "error", "a second settle", outcome="error", score=0.0, passed=False)
    settled = mine.submission(row.id)
    assert (settled.status, settled.reason, settled.owner, settled.phase, settled.worker) == (
        "graded", "graded: passed", None, None, "server-a")
    assert (settled.score, settled.passed, settled.outcome) == (90.0, True, "passed")
    assert statuses(mine, row.id) == ["queued", "running", "graded"]


def test_a_clean_stop_releases_only_the_stopping_servers_gradings(opened: Opened) -> None:
    store = opened.open()
    who = candidate(store)[0]
    first, second = submit(store, who), submit(store, who)
    assert store.claim("server-a", deadline_s=no_deadline) is not None
    assert store.claim("server-b", deadline_s=no_deadline) is not None

    assert store.release("server-a", "the server stopped during the grading") == 1
    assert store.submission(first.id).status == "queued"
    assert store.submission(first.id).reason == "the server stopped during the grading"
    assert store.submission(second.id).status == "running"
    again = store.claim("server-c", deadline_s=no_deadline)
    assert again is not None and (again.id, again.tries) == (first.id, 2)


# -- servers that stop reporting, gradings past their deadline -----------------------------------------------

def heard_of_at(store: Store, submission_id: str, moment: datetime) -> None:
    with store.session() as s:
        s.execute(update(Submission).where(Submission.id == submission_id).values(heartbeat_at=moment))


def test_a_grading_whose_server_stopped_reporting_is_taken_back_once(opened: Opened) -> None:
    store, other = opened.open(), opened.open()
    who = candidate(store)[0]
    dead, alive = submit(store, who), submit(store, who)
    assert store.claim("dead-server", deadline_s=no_deadline) is not None
    assert store.claim("live-server", deadline_s=no_deadline) is not None
    assert store.set_phase(dead.id, "dead-server", "training (run 1 of 1)")
    heard_of_at(store, dead.id, datetime.now(UTC) - timedelta(seconds=45))
    store.heartbeat("live-server")

    assert store.take_back_stale(30.0) == [dead.id]
    assert other.take_back_stale(30.0) == []  # the second server to look finds nothing left
    row = store.submission(dead.id)
    assert (row.status, row.owner, row.phase, row.deadline_at, row.tries) == ("queued", None, None, None, 1)
    assert "dead-server" in row.reason and "stopped reporting" in row.reason
    assert "training (run 1 of 1)" in row.reason and "does not count against your attempts" in row.reason
    assert store.submission(alive.id).status == "running"
    # The dead server, were it only slow, can no longer settle it...
    assert not store.finish(dead.id, "dead-server", "graded", "late", outcome="passed", score=1.0, passed=True)
    # ...and the next claim grades it from the start.
    again = other.claim("new-server", deadline_s=no_deadline)
    assert again is not None and (again.id, again.tries) == (dead.id, 2)
    assert statuses(store, dead.id) == ["queued", "running", "queued", "running"]
    assert store.attempts_used(who.id) == 2  # two submissions; the retry is not a third


def test_the_reaper_ends_a_grading_past_its_deadline_as_an_uncounted_error(opened: Opened) -> None:
    store = opened.open()
    who = candidate(store, attempts=1)[0]
    stuck = submit(store, who)
    claimed = store.claim("server-a", deadline_s=lambda _: 0.5)
    assert claimed is not None and claimed.deadline_at is not None and claimed.started_at is not None
    store.set_phase(stuck.id, "server-a", "predicting (run 1 of 1)")
    assert store.reap() == []  # not yet

    with store.session() as s:  # its deadline passes
        s.execute(update(Submission).where(Submission.id == stuck.id)
                  .values(deadline_at=datetime.now(UTC) - timedelta(seconds=1)))
    row = store.submission(stuck.id)
    assert store.reap() == [stuck.id]
    assert opened.open().reap() == []
    reaped = store.submission(stuck.id)
    assert (reaped.status, reaped.outcome, reaped.owner, reaped.phase, reaped.passed) == (
        "error", "error", None, None, False)
    assert reaped.reason.startswith("stuck: ")
    assert f"running since {claimed.started_at:%Y-%m-%d %H:%M:%S} UTC" in reaped.reason
    assert "'predicting (run 1 of 1)'" in reaped.reason and "server-a" in reaped.reason
    assert f"{row.deadline_at:%Y-%m-%d %H:%M:%S} UTC" in reaped.reason
    assert "does not count against your attempts" in reaped.reason
    assert not store.finish(stuck.id, "server-a", "graded", "late", outcome="passed", score=1.0, passed=True)
    assert statuses(store, stuck.id) == ["queued", "running", "error"]
    assert store.attempts_used(who.id) == 0
    assert submit(store, who).number == 2  # the one attempt is still there


def test_the_reaper_says_seconds_for_a_short_deadline(store: Store) -> None:
    row = submit(store, candidate(store)[0])
    claimed = store.claim("server-a", deadline_s=lambda _: 3.0)
    assert claimed is not None and claimed.started_at is not None and claimed.deadline_at is not None
    with store.session() as s:  # ten seconds later
        s.execute(update(Submission).where(Submission.id == row.id)
                  .values(started_at=claimed.started_at - timedelta(seconds=10),
                          deadline_at=claimed.deadline_at - timedelta(seconds=10)))
    assert store.reap() == [row.id]
    assert "no result after 3 s" in store.submission(row.id).reason


# -- attempts and deadlines ------------------------------------------------------------------------------------

def settle(store: Store, status: str) -> Submission:
    row = store.claim("server-a", deadline_s=no_deadline)
    assert row is not None
    assert store.finish(row.id, "server-a", status, f"{status} for the test", outcome=status, score=0.0,
                        passed=False)
    return row


def test_every_submission_counts_against_the_attempts_but_the_graders_own_errors(store: Store) -> None:
    who = candidate(store, attempts=3)[0]
    submit(store, who)
    assert store.attempts_used(who.id) == 1  # queued counts: it is an attempt being graded
    settle(store, "error")
    assert store.attempts_used(who.id) == 0
    submit(store, who)
    claimed = store.claim("server-a", deadline_s=no_deadline)
    assert claimed is not None and store.attempts_used(who.id) == 1  # running counts
    assert store.finish(claimed.id, "server-a", "graded", "graded", outcome="not_passed", score=10.0, passed=False)
    submit(store, who)
    settle(store, "invalid")
    assert store.attempts_used(who.id) == 2
    submit(store, who)
    assert store.attempts_used(who.id) == 3
    with pytest.raises(AttemptsUsed, match="all 3 attempts") as refused:
        submit(store, who)
    assert refused.value.status_code == 409 and "does not count" in (refused.value.hint or "")
    assert [r.number for r in store.submissions(candidate_id=who.id)] == [1, 2, 3, 4]


def test_no_submission_past_the_deadline(store: Store) -> None:
    deadline = datetime.now(UTC) - timedelta(minutes=1)
    who = candidate(store, deadline=deadline)[0]
    with pytest.raises(Forbidden, match="deadline .* passed") as refused:
        submit(store, who)
    assert refused.value.status_code == 403
    assert store.check_open(who, at=deadline - timedelta(seconds=1)).id == who.assessment_id
    assert store.submissions(candidate_id=who.id) == []


def test_uploads_at_once_never_exceed_the_attempts(opened: Opened) -> None:
    """The budget is checked again inside the transaction that adds the submission: eight uploads of the same
    candidate at the same moment (from as many servers) leave one submission of a one-attempt assessment."""
    setup = opened.open()
    who = candidate(setup, attempts=1)[0]
    servers = [opened.open() for _ in range(8)]
    start = threading.Barrier(len(servers))
    accepted: list[str] = []
    refused: list[BaseException] = []

    def upload(store: Store) -> None:
        start.wait(timeout=30)
        try:
            accepted.append(submit(store, who).id)
        except AttemptsUsed as exc:
            refused.append(exc)

    run_all(upload, servers)
    assert len(accepted) == 1 and len(refused) == 7
    assert [r.id for r in setup.submissions(candidate_id=who.id)] == accepted


def run_all(target: Callable[[Store], None], stores: list[Store]) -> None:
    threads = [threading.Thread(target=target, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
