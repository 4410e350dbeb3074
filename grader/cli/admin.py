"""``grader admin``: assessments, invitations and interviewers of ``grader serve``, on the same ``--data`` and
``--db``. Every command takes ``--json``; tokens are printed once and stored only hashed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from grader.cli.serve import DATA_OPTION, DB_OPTION, config_of
from grader.service.config import DEFAULT_MAX_UPLOAD_BYTES

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def _store(data: Path | None, db: str | None):  # type: ignore[no-untyped-def]
    from grader.service.store import open_store

    config = config_of(data, db)
    return open_store(config), config


def _print(as_json: bool, payload: dict[str, Any] | list[Any], text: str) -> None:
    click.echo(json.dumps(payload, indent=2, default=str) if as_json else text)


def _deadline(value: str | None) -> datetime | None:
    from grader.errors import UsageError

    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--deadline {value!r} is not an ISO 8601 date and time",
                         "give e.g. 2027-01-15T17:00:00+00:00 (or ...Z)") from None
    if moment.tzinfo is None:
        raise UsageError(f"--deadline {value!r} has no time zone", "add one: 2027-01-15T17:00:00+00:00 or ...Z")
    return moment


@click.group("admin")
def admin() -> None:
    """Create assessments, invite candidates and add interviewers of `grader serve`."""


@admin.group("assessment")
def assessment() -> None:
    """Assessments: a task, a title, a deadline and an attempt budget."""


@assessment.command("create")
@click.option("--task", "task_id", required=True, help="The task candidates solve, e.g. tabular/credit-default.")
@click.option("--title", required=True, help="What candidates see.")
@click.option("--deadline", help="ISO 8601 with a time zone; no submissions after it.")
@click.option("--attempts", type=int, help="Submissions per candidate (the grader's own errors never count) "
                                           "[default: no limit].")
@click.option("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_BYTES / 2**20, show_default=True,
              help="The cap on one upload (over it: 413, nothing stored).")
@DATA_OPTION
@DB_OPTION
@JSON_OPTION
def assessment_create(task_id: str, title: str, deadline: str | None, attempts: int | None, max_upload_mb: float,
                      data: Path | None, db: str | None, as_json: bool) -> None:
    """Create an assessment; prints its id."""
    from grader.spec.task import discover_tasks

    when = _deadline(deadline)
    store, _ = _store(data, db)
    row = store.create_assessment(task_id, title, deadline=when, attempts=attempts,
                                  max_upload_bytes=int(max_upload_mb * 1024 * 1024), known_tasks=list(discover_tasks()))
    _print(as_json, {"id": row.id}, f"assessment {row.id}: {row.title} ({row.task_id})\n"
                                    f"invite candidates: grader admin invite {row.id} --candidate NAME")


def _optional(value: str | None, parse: Callable[[str], Any]) -> Any:
    """An option that may be left as it is (not given: False), cleared ('none': None) or set."""
    if value is None:
        return False
    return None if value.strip().lower() == "none" else parse(value)


def _attempts(value: str) -> int:
    from grader.errors import UsageError

    try:
        return int(value)
    except ValueError:
        raise UsageError(f"--attempts {value!r} is not a whole number", "give e.g. --attempts 3, or 'none'") from None


@assessment.command("update")
@click.argument("assessment_id")
@click.option("--deadline", help="A new deadline (ISO 8601 with a time zone), or 'none' for no deadline.")
@click.option("--attempts", help="A new attempt budget per candidate, or 'none' for no limit.")
@click.option("--max-upload-mb", type=float, help="A new cap on one upload.")
@DATA_OPTION
@DB_OPTION
@JSON_OPTION
def assessment_update(assessment_id: str, deadline: str | None, attempts: str | None, max_upload_mb: float | None,
                      data: Path | None, db: str | None, as_json: bool) -> None:
    """Move the deadline, change the attempts or the upload cap (of every candidate of the assessment)."""
    from grader.errors import UsageError

    if deadline is None and attempts is None and max_upload_mb is None:
        raise UsageError("nothing to change", "give --deadline, --attempts or --max-upload-mb")
    when = _optional(deadline, _deadline)
    budget = _optional(attempts, _attempts)
    store, _ = _store(data, db)
    row = store.update_assessment(assessment_id, deadline=when, attempts=budget,
                                  max_upload_bytes=None if max_upload_mb is None else int(max_upload_mb * 2**20))
    payload = {"id": row.id, "deadline": row.deadline.isoformat() if row.deadline else None,
               "attempts": row.attempts, "max_upload_bytes": row.max_upload_bytes}
    _print(as_json, payload, f"assessment {row.id}: deadline {payload['deadline'] or 'none'}, attempts "
                             f"{row.attempts or 'no limit'}, upload cap {row.max_upload_bytes / 2**20:g} MiB")


@admin.command("reissue")
@click.argument("candidate_id")
@click.option("--url", "base_url", envvar="GRADER_PUBLIC_URL", show_envvar=True, default="http://127.0.0.1:8000",
              show_default=True, help="The service's address, for the invitation link.")
@DATA_OPTION
@DB_OPTION
@JSON_OPTION
def reissue(candidate_id: str, base_url: str, data: Path | None, db: str | None, as_json: bool) -> None:
    """A new invitation for a candidate who lost theirs (ids in `grader admin list`); the old link stops working."""
    store, _ = _store(data, db)
    row, token = store.reissue(candidate_id)
    url = f"{base_url.rstrip('/')}/invite/{token}"
    _print(as_json, {"token": token, "url": url, "candidate_id": row.id},
           f"new invitation for {row.name}; the old one no longer works (shown once, stored only hashed):\n{url}")


@admin.command("invite")
@click.argument("assessment_id")
@click.option("--candidate", required=True, help="The candidate's name, as interviewers will see it.")
@click.option("--url", "base_url", envvar="GRADER_PUBLIC_URL", show_envvar=True, default="http://127.0.0.1:8000",
              show_default=True, help="The service's address, for the invitation link.")
@DATA_OPTION
@DB_OPTION
@JSON_OPTION
def invite(assessment_id: str, candidate: str, base_url: str, data: Path | None, db: str | None, as_json: bool) -> None:
    """Invite a candidate; prints their token and invitation link, once."""
    store, _ = _store(data, db)
    row, token = store.invite(assessment_id, candidate)
    url = f"{base_url.rstrip('/')}/invite/{token}"
    _print(as_json, {"token": token, "url": url, "candidate_id": row.id},
           f"invited {row.name}; send them this link (shown once, stored only hashed):\n{url}")


@admin.group("interviewer")
def interviewer() -> None:
    """Interviewers: they see every assessment and record reviews."""


@interviewer.command("create")
@click.argument("name")
@DATA_OPTION
@DB_OPTION
@JSON_OPTION
def interviewer_create(name: str, data: Path | None, db: str | None, as_json: bool) -> None:
    """Add an interviewer; prints their token, once."""
    store, _ = _store(data, db)
    row, token = store.create_interviewer(name)
    _print(as_json, {"token": token, "id": row.id},
           f"interviewer {row.name}; their token (shown once, stored only hashed):\n{token}")


@admin.command("list")
@DATA_OPTION
@DB_OPTION
@JSON_OPTION
def listing(data: Path | None, db: str | None, as_json: bool) -> None:
    """Every assessment with its candidates and their submissions, and the interviewers."""
    store, config = _store(data, db)
    assessments = []
    for a in store.assessments():
        subs = store.submissions(assessment_id=a.id)
        assessments.append({
            "id": a.id, "task": a.task_id, "title": a.title,
            "deadline": a.deadline.isoformat() if a.deadline else None, "attempts": a.attempts,
            "max_upload_bytes": a.max_upload_bytes,
            "candidates": [{"id": c.id, "name": c.name,
                            "submissions": [{"id": s.id, "attempt": s.number, "status": s.status, "score": s.score}
                                            for s in subs if s.candidate_id == c.id]}
                           for c in store.candidates(a.id)]})
    people = [{"id": i.id, "name": i.name} for i in store.interviewers()]
    payload = {"data": str(config.data), "assessments": assessments, "interviewers": people}
    lines = [f"data: {config.data}"]
    for a in assessments:
        lines.append(f"{a['id']}  {a['title']}  ({a['task']}, deadline {a['deadline'] or 'none'}, "
                     f"attempts {a['attempts'] or 'no limit'})")
        for c in a["candidates"]:
            done = ", ".join(f"#{s['attempt']} {s['status']}" for s in c["submissions"]) or "nothing handed in"
            lines.append(f"    {c['name']} ({c['id']}): {done}")
    lines.append("interviewers: " + (", ".join(p["name"] for p in people) or "none"))
    _print(as_json, payload, "\n".join(lines))
