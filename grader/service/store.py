"""Every read and write of the service's database. Each change of a submission's status is one conditional
UPDATE (``WHERE status = ... AND owner = ...``), so two servers, a restarted one and the reaper can never
both settle a grading: the first wins, the others see a row count of 0. Each change writes an event with
its reason, and ``submissions.reason`` always says why the submission is where it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import UnknownNameError, UsageError
from grader.service import tokens
from grader.service.config import ServiceConfig
from grader.service.db import Assessment, Candidate, Event, Interviewer, Submission, engine_for, migrate, now
from grader.service.errors import AttemptsUsed, Forbidden, NotFound

Row = TypeVar("Row", Assessment, Candidate, Submission)
Status = Literal["queued", "running", "graded", "invalid", "error"]
#: Statuses a grading ends in.
TERMINAL = ("graded", "invalid", "error")
#: What counts against a candidate's attempts: everything but the grader's own errors.
COUNTED = ("queued", "running", "graded", "invalid")


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to."""

    kind: Literal["candidate", "interviewer"]
    id: str
    name: str
    assessment_id: str | None = None


def _span(seconds: float) -> str:
    """A duration as a reason reads it: seconds under two minutes (a short ``--grading-timeout`` would read
    "0 min"), minutes above."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def open_store(config: ServiceConfig) -> Store:
    """The store at ``config``'s database, its schema migrated to date (what ``grader admin`` needs, without
    the grading machinery ``grader serve`` starts)."""
    engine = engine_for(config.db_url)
    migrate(engine)
    config.data.mkdir(parents=True, exist_ok=True)
    return Store(engine)


def _check_terms(deadline: datetime | None, attempts: int | None, max_upload_bytes: int | None, *,
                 no_limit: str) -> None:
    """What an assessment may allow, for its creation and its updates (None: not given, nothing to check);
    ``no_limit`` says how to ask for unlimited attempts instead."""
    if attempts is not None and attempts < 1:
        raise UsageError(f"--attempts must be at least 1, not {attempts}", no_limit)
    if max_upload_bytes is not None and max_upload_bytes < 1024:
        raise UsageError(f"an upload cap of {max_upload_bytes} bytes is too small for any submission",
                         "give --max-upload-mb 1 or more")
    if deadline is not None and deadline.tzinfo is None:
        raise UsageError("the deadline has no time zone", "give it as ISO 8601 with one, e.g. "
                                                          "2027-01-15T17:00:00+00:00")


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    # -- administration -------------------------------------------------------------------------------
    def create_assessment(self, task_id: str, title: str, *, deadline: datetime | None, attempts: int | None,
                          max_upload_bytes: int, known_tasks: Sequence[str]) -> Assessment:
        if task_id not in known_tasks:
            raise UnknownNameError("task", task_id, known_tasks)
        if not title.strip():
            raise UsageError("an assessment needs a title", "give --title 'ML engineer, winter 2026'")
        _check_terms(deadline, attempts, max_upload_bytes, no_limit="leave it out for no limit")
        row = Assessment(id=tokens.new_id(), task_id=task_id, title=title.strip(),
                         deadline=deadline.astimezone(UTC) if deadline is not None else None,
                         attempts=attempts, max_upload_bytes=max_upload_bytes, created_at=now())
        with self.session() as s:
            s.add(row)
        return row

    def invite(self, assessment_id: str, name: str) -> tuple[Candidate, str]:
        if not name.strip():
            raise UsageError("a candidate needs a name", "give --candidate 'Ada Lovelace'")
        token = tokens.new_token(tokens.CANDIDATE_PREFIX)
        with self.session() as s:
            if s.get(Assessment, assessment_id) is None:
                raise UnknownNameError("assessment", assessment_id, s.scalars(select(Assessment.id)).all())
            row = Candidate(id=tokens.new_id(), assessment_id=assessment_id, name=name.strip(),
                            token_hash=tokens.hash_token(token), created_at=now())
            s.add(row)
        return row, token

    def update_assessment(self, assessment_id: str, *, deadline: datetime | None | bool = False,
                          attempts: int | None | bool = False, max_upload_bytes: int | None = None) -> Assessment:
        """Change what an assessment allows: a later (or no, None) deadline, more (or unlimited, None) attempts,
        another upload cap. ``False``: leave that as it is. Submissions already made are not touched."""
        _check_terms(deadline if isinstance(deadline, datetime) else None,
                     attempts if attempts is not False else None, max_upload_bytes, no_limit="give 'none' for no limit")
        with self.session() as s:
            row = s.get(Assessment, assessment_id)
            if row is None:
                raise UnknownNameError("assessment", assessment_id, s.scalars(select(Assessment.id)).all())
            if deadline is not False:
                row.deadline = deadline.astimezone(UTC) if isinstance(deadline, datetime) else None
            if attempts is not False:
                row.attempts = attempts  # type: ignore[assignment]
            if max_upload_bytes is not None:
                row.max_upload_bytes = max_upload_bytes
        return row

    def reissue(self, candidate_id: str) -> tuple[Candidate, str]:
        """A new token for a candidate who lost their link; the old one stops working."""
        token = tokens.new_token(tokens.CANDIDATE_PREFIX)
        with self.session() as s:
            row = s.get(Candidate, candidate_id)
            if row is None:
                raise UnknownNameError("candidate", candidate_id, s.scalars(select(Candidate.id)).all())
            row.token_hash = tokens.hash_token(token)
        return row, token

    def create_interviewer(self, name: str) -> tuple[Interviewer, str]:
        if not name.strip():
            raise UsageError("an interviewer needs a name", "grader admin interviewer create 'Grace Hopper'")
        token = tokens.new_token(tokens.INTERVIEWER_PREFIX)
        row = Interviewer(id=tokens.new_id(), name=name.strip(), token_hash=tokens.hash_token(token), created_at=now())
        with self.session() as s:
            s.add(row)
        return row, token

    def assessments(self) -> list[Assessment]:
        with self.session() as s:
            return list(s.scalars(select(Assessment).order_by(Assessment.created_at)))

    def _get(self, model: type[Row], key: str, what: str, hint: str | None = None) -> Row:
        with self.session() as s:
            row = s.get(model, key)
        if row is None:
            raise NotFound(f"no {what} {key!r}", hint)
        return row

    def assessment(self, assessment_id: str) -> Assessment:
        return self._get(Assessment, assessment_id, "assessment",
                         "interviewers list them at / or /api/assessments, or with `grader admin list`")

    def candidates(self, assessment_id: str | None = None) -> list[Candidate]:
        query = select(Candidate).order_by(Candidate.created_at)
        if assessment_id is not None:
            query = query.where(Candidate.assessment_id == assessment_id)
        with self.session() as s:
            return list(s.scalars(query))

    def candidate(self, candidate_id: str) -> Candidate:
        return self._get(Candidate, candidate_id, "candidate")

    def interviewers(self) -> list[Interviewer]:
        with self.session() as s:
            return list(s.scalars(select(Interviewer).order_by(Interviewer.created_at)))

    # -- who is asking ----------------------------------------------------------------------------------
    def principal(self, token: str) -> Principal | None:
        digest = tokens.hash_token(token)
        with self.session() as s:
            cand = s.scalars(select(Candidate).where(Candidate.token_hash == digest)).first()
            if cand is not None:
                return Principal("candidate", cand.id, cand.name, cand.assessment_id)
            intv = s.scalars(select(Interviewer).where(Interviewer.token_hash == digest)).first()
            if intv is not None:
                return Principal("interviewer", intv.id, intv.name)
        return None

    # -- submissions --------------------------------------------------------------------------------------
    def attempts_used(self, candidate_id: str) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(Submission).where(
                Submission.candidate_id == candidate_id, Submission.status.in_(COUNTED))) or 0

    def check_open(self, candidate: Principal, *, at: datetime | None = None) -> Assessment:
        """The candidate's assessment, when it still takes a submission; else the 4xx saying why not."""
        assert candidate.assessment_id is not None
        assessment = self.assessment(candidate.assessment_id)
        moment = at or now()
        if assessment.deadline is not None and moment > assessment.deadline:
            raise Forbidden(f"the deadline of {assessment.title!r} passed at {assessment.deadline.isoformat()}; "
                            "no more submissions are taken", "ask your interviewer if you need more time (they can "
                            "move the deadline)")
        if assessment.attempts is not None:
            used = self.attempts_used(candidate.id)
            if used >= assessment.attempts:
                raise AttemptsUsed(f"all {assessment.attempts} attempts of {assessment.title!r} are used",
                                   "a grading that failed for the grader's own reasons does not count; ask your "
                                   "interviewer for another attempt")
        return assessment

    def add_submission(self, submission_id: str, candidate: Principal, *, filename: str, size_bytes: int,
                       sha256: str | None) -> Submission:
        """Record a stored upload as queued. The attempt budget is checked again inside the transaction."""
        assessment = self.check_open(candidate)
        with self.session() as s:
            # One upload of a candidate at a time, on every database: a write to their row locks it until this
            # commits (SQLite ignores SELECT ... FOR UPDATE, so concurrent uploads each counted the attempts
            # before any was written, and all got in).
            s.execute(update(Candidate).where(Candidate.id == candidate.id).values(name=Candidate.name))
            used = s.scalar(select(func.count()).select_from(Submission).where(
                Submission.candidate_id == candidate.id, Submission.status.in_(COUNTED))) or 0
            if assessment.attempts is not None and used >= assessment.attempts:
                raise AttemptsUsed(f"all {assessment.attempts} attempts of {assessment.title!r} are used")
            number = (s.scalar(select(func.max(Submission.number)).where(
                Submission.candidate_id == candidate.id)) or 0) + 1
            moment = now()
            row = Submission(id=submission_id, assessment_id=assessment.id, candidate_id=candidate.id, number=number,
                             filename=filename, size_bytes=size_bytes, sha256=sha256, status="queued",
                             reason="received and stored; waiting for a grader", created_at=moment, queued_at=moment,
                             tries=0)
            s.add(row)
            s.flush()
            s.add(Event(submission_id=submission_id, at=moment, status="queued", message=row.reason))
        return row

    def submission(self, submission_id: str) -> Submission:
        return self._get(Submission, submission_id, "submission", "candidates list theirs at /api/me")

    def submissions(self, *, candidate_id: str | None = None, assessment_id: str | None = None,
                    statuses: Sequence[str] | None = None) -> list[Submission]:
        query = select(Submission).order_by(Submission.created_at)
        if candidate_id is not None:
            query = query.where(Submission.candidate_id == candidate_id)
        if assessment_id is not None:
            query = query.where(Submission.assessment_id == assessment_id)
        if statuses is not None:
            query = query.where(Submission.status.in_(statuses))
        with self.session() as s:
            return list(s.scalars(query))

    def events(self, submission_id: str) -> list[Event]:
        with self.session() as s:
            return list(s.scalars(select(Event).where(Event.submission_id == submission_id).order_by(Event.id)))

    def position(self, row: Submission) -> int | None:
        """1 for the next to be graded; None unless queued."""
        if row.status != "queued":
            return None
        with self.session() as s:
            ahead = s.scalar(select(func.count()).select_from(Submission).where(
                Submission.status == "queued", Submission.queued_at < row.queued_at)) or 0
        return ahead + 1

    def counts(self) -> dict[str, int]:
        with self.session() as s:
            rows = s.execute(select(Submission.status, func.count()).group_by(Submission.status)).all()
        return {status: n for status, n in rows}

    # -- the grading's life -----------------------------------------------------------------------------
    def _change(self, s: Session, submission_id: str, where: Sequence[Any], status: str, reason: str,
                **values: object) -> bool:
        moment = now()
        result = s.execute(update(Submission).where(Submission.id == submission_id, *where)
                           .values(status=status, reason=reason, **values))
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        s.add(Event(submission_id=submission_id, at=moment, status=status, message=reason))
        return True

    def claim(self, owner: str, *, deadline_s: Callable[[str], float],
              exclude_jobs: bool = False) -> Submission | None:
        """Take the oldest queued submission for ``owner`` to grade (local workers); None when none waits.
        ``deadline_s(assessment_id)``: how long its grading may run before the reaper ends it."""
        with self.session() as s:
            query = select(Submission.id, Submission.tries, Submission.assessment_id).where(
                Submission.status == "queued")
            if exclude_jobs:
                query = query.where(Submission.job_id.is_(None))
            candidates = s.execute(query.order_by(Submission.queued_at).limit(5)).all()
            for submission_id, tries, assessment_id in candidates:
                moment = now()
                reason = f"grading on {owner}, try {tries + 1}"
                if self._change(s, submission_id, (Submission.status == "queued",), "running", reason,
                                owner=owner, started_at=moment, heartbeat_at=moment, finished_at=None,
                                deadline_at=moment + timedelta(seconds=deadline_s(assessment_id)),
                                tries=tries + 1,
                                phase="starting"):
                    s.flush()
                    return s.get(Submission, submission_id)
        return None

    def set_phase(self, submission_id: str, owner: str, phase: str) -> bool:
        with self.session() as s:
            result = s.execute(update(Submission).where(Submission.id == submission_id,
                                                        Submission.status == "running", Submission.owner == owner)
                               .values(phase=phase[:500], heartbeat_at=now()))
            return result.rowcount == 1  # type: ignore[attr-defined]

    def heartbeat(self, owner: str) -> None:
        with self.session() as s:
            s.execute(update(Submission).where(Submission.status == "running", Submission.owner == owner)
                      .values(heartbeat_at=now()))

    def finish(self, submission_id: str, owner: str, status: str, reason: str, *, outcome: str | None,
               score: float | None, passed: bool | None, worker: str | None = None) -> bool:
        """Settle a running grading of ``owner``; False when it is no longer its (reaped or taken over)."""
        with self.session() as s:
            return self._change(s, submission_id, (Submission.status == "running", Submission.owner == owner),
                                status, reason, outcome=outcome, score=score, passed=passed, finished_at=now(),
                                phase=None, owner=None, worker=worker or owner)

    def retry(self, submission_id: str, owner: str, reason: str) -> bool:
        """Queue a running grading again (an infrastructure failure with tries left)."""
        with self.session() as s:
            return self._change(s, submission_id, (Submission.status == "running", Submission.owner == owner),
                                "queued", reason, owner=None, queued_at=now(), phase=None, deadline_at=None,
                                job_id=None)

    def release(self, owner: str, reason: str) -> int:
        """Queue again every grading ``owner`` was running (a server shutting down cleanly)."""
        with self.session() as s:
            ids = s.scalars(select(Submission.id).where(Submission.status == "running",
                                                        Submission.owner == owner)).all()
            return sum(self._change(s, i, (Submission.status == "running", Submission.owner == owner), "queued",
                                    reason, owner=None, queued_at=now(), phase=None, deadline_at=None) for i in ids)

    def local_owners(self) -> set[str]:
        """The servers running local gradings now, as their owner strings."""
        with self.session() as s:
            return {o for o in s.scalars(select(Submission.owner).where(Submission.status == "running",
                                                               Submission.job_id.is_(None),
                                                               Submission.owner.is_not(None))).all() if o}

    def take_back_stale(self, stale_after_s: float) -> list[str]:
        """Queue again the local gradings whose server stopped reporting (it died or was killed)."""
        line = now() - timedelta(seconds=stale_after_s)
        taken = []
        with self.session() as s:
            rows = s.execute(select(Submission.id, Submission.owner, Submission.phase, Submission.heartbeat_at).where(
                Submission.status == "running", Submission.job_id.is_(None),
                Submission.heartbeat_at < line)).all()
            for submission_id, owner, phase, beat in rows:
                reason = (f"the server grading it ({owner}) stopped reporting during '{phase or 'starting'}' "
                          f"(last heard at {beat:%H:%M:%S} UTC); queued to be graded again from the start. "
                          "This does not count against your attempts")
                if self._change(s, submission_id, (Submission.status == "running", Submission.owner == owner,
                                                   Submission.heartbeat_at == beat), "queued", reason,
                                owner=None, queued_at=now(), phase=None, deadline_at=None):
                    taken.append(submission_id)
        return taken

    def reap(self) -> list[str]:
        """Move gradings running past their deadline to ``error``, saying so."""
        moment = now()
        reaped = []
        with self.session() as s:
            rows = s.execute(select(Submission.id, Submission.owner, Submission.phase, Submission.started_at,
                                    Submission.deadline_at).where(Submission.status == "running",
                                                                  Submission.deadline_at < moment)).all()
            for submission_id, owner, phase, started, deadline in rows:
                since = f"running since {started:%Y-%m-%d %H:%M:%S} UTC, " if started else ""
                allowed = f" after {_span((deadline - started).total_seconds())}" if started and deadline else ""
                reason = (f"stuck: {since}no result{allowed} (its deadline, {deadline:%Y-%m-%d %H:%M:%S} UTC); "
                          f"it was last in '{phase or 'starting'}' on {owner or 'a worker'}. This is the grader's "
                          "failure and does not count against your attempts")
                if self._change(s, submission_id, (Submission.status == "running", Submission.deadline_at == deadline),
                                "error", reason, owner=None, finished_at=moment, phase=None, outcome="error",
                                passed=False, score=0.0):
                    reaped.append(submission_id)
        return reaped

    # -- the queue's side (``--queue``) ---------------------------------------------------------------------
    def enqueued(self, submission_id: str, job_id: str, reason: str) -> bool:
        with self.session() as s:
            return self._change(s, submission_id, (Submission.status == "queued", Submission.job_id.is_(None)),
                                "queued", reason, job_id=job_id, tries=Submission.tries + 1)

    def unqueueable(self, submission_id: str, reason: str) -> bool:
        """Settle a waiting submission that cannot become a queue job (its upload unreadable) as ``error``."""
        with self.session() as s:
            return self._change(s, submission_id, (Submission.status == "queued", Submission.job_id.is_(None)),
                                "error", reason, outcome="error", score=0.0, passed=False, finished_at=now(),
                                phase=None, owner=None)

    def explain_waiting(self, submission_id: str, job_id: str, reason: str) -> bool:
        """Say anew why a queued job's submission still waits (when that changes: an event each time)."""
        with self.session() as s:
            return self._change(s, submission_id, (Submission.status == "queued", Submission.job_id == job_id,
                                                   Submission.reason != reason), "queued", reason)

    def queued_jobs(self) -> list[Submission]:
        with self.session() as s:
            return list(s.scalars(select(Submission).where(Submission.status.in_(("queued", "running")),
                                                           Submission.job_id.is_not(None))))

    def job_started(self, submission_id: str, job_id: str, worker: str, *, deadline_s: float,
                    started: datetime | None) -> bool:
        moment = started or now()
        with self.session() as s:
            return self._change(s, submission_id, (Submission.status == "queued", Submission.job_id == job_id),
                                "running", f"grading on worker {worker}", owner=f"job {job_id}", worker=worker,
                                started_at=moment, heartbeat_at=now(),
                                deadline_at=moment + timedelta(seconds=deadline_s), phase="starting")

    def job_phase(self, submission_id: str, job_id: str, phase: str) -> None:
        with self.session() as s:
            s.execute(update(Submission).where(Submission.id == submission_id, Submission.job_id == job_id,
                                               Submission.status == "running")
                      .values(phase=phase[:500], heartbeat_at=now()))

    def job_lost(self, submission_id: str, job_id: str, reason: str) -> bool:
        """The queue no longer knows the job (Redis flushed): queue it again."""
        with self.session() as s:
            return self._change(s, submission_id, (Submission.job_id == job_id,
                                                   Submission.status.in_(("queued", "running"))),
                                "queued", reason, job_id=None, owner=None, queued_at=now(), phase=None,
                                deadline_at=None)

    def job_finished(self, submission_id: str, job_id: str, status: str, reason: str, *, outcome: str | None,
                     score: float | None, passed: bool | None, worker: str | None = None) -> bool:
        """Settle a queue job's submission (queued or running: a quick job may end between two looks)."""
        with self.session() as s:
            return self._change(s, submission_id, (Submission.job_id == job_id,
                                                   Submission.status.in_(("queued", "running"))),
                                status, reason, outcome=outcome, score=score, passed=passed, finished_at=now(),
                                phase=None, owner=None, worker=worker)

    def reviewed(self, submission_id: str, score: float, passed: bool, outcome: str, reason: str, reviewer: str,
                 criterion: str) -> None:
        """An interviewer's review changed a graded submission's points: its figures and reason follow, with
        an event."""
        with self.session() as s:
            row = s.get(Submission, submission_id)
            if row is None:
                raise NotFound(f"no submission {submission_id!r}")
            row.score, row.passed, row.outcome, row.reason = score, passed, outcome, reason
            s.add(Event(submission_id=submission_id, at=now(), status=row.status,
                        message=f"reviewed by {reviewer}: {criterion}; the score is now {score:g}"))
