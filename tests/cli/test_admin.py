"""``grader admin``: what each command prints (``--json``), that tokens are shown once and kept hashed, and
that every mistake is a usage error (exit 2) naming the fix, with nothing written."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main

TASK = "tabular/credit-default"


def admin(data: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["admin", *args, "--data", str(data)])
    return result.exit_code, result.output


def admin_json(data: Path, *args: str) -> dict:
    code, output = admin(data, *args, "--json")
    assert code == 0, output
    return json.loads(output)


def test_assessment_invite_interviewer_and_list(tmp_path):
    data = tmp_path / "service"
    made = admin_json(data, "assessment", "create", "--task", TASK, "--title", "Winter", "--deadline",
                      "2030-01-15T17:00:00Z", "--attempts", "2")
    invited = admin_json(data, "invite", made["id"], "--candidate", "Ada", "--url", "https://grader.example.com/")
    assert invited["url"] == f"https://grader.example.com/invite/{invited['token']}"
    assert invited["token"].startswith("cand_") and len(invited["token"]) > 40
    interviewer = admin_json(data, "interviewer", "create", "Grace")
    assert interviewer["token"].startswith("intv_")
    listed = admin_json(data, "list")
    (assessment,) = listed["assessments"]
    assert assessment["id"] == made["id"] and assessment["task"] == TASK and assessment["attempts"] == 2
    assert assessment["deadline"].startswith("2030-01-15T17:00:00")
    assert [c["name"] for c in assessment["candidates"]] == ["Ada"]
    assert [i["name"] for i in listed["interviewers"]] == ["Grace"]
    code, text = admin(data, "list")
    assert code == 0 and "Winter" in text and "Grace" in text
    assert f"Ada ({invited['candidate_id']}): nothing handed in" in text  # the id `grader admin reissue` takes

    raw = (data / "grader.db").read_bytes()
    with sqlite3.connect(data / "grader.db") as db:
        hashes = {row[0] for row in db.execute("select token_hash from candidates union select token_hash "
                                               "from interviewers")}
    for token in (invited["token"], interviewer["token"]):
        assert token.encode() not in raw
        assert hashlib.sha256(token.encode()).hexdigest() in hashes


@pytest.mark.parametrize(("args", "says"), [
    (["assessment", "create", "--task", "tabular/credit-defualt", "--title", "T"],
     "did you mean 'tabular/credit-default'"),
    (["assessment", "create", "--task", TASK, "--title", "  "], "needs a title"),
    (["assessment", "create", "--task", TASK, "--title", "T", "--attempts", "0"], "at least 1"),
    (["assessment", "create", "--task", TASK, "--title", "T", "--deadline", "next friday"], "not an ISO 8601"),
    (["assessment", "create", "--task", TASK, "--title", "T", "--deadline", "2030-01-15T17:00"], "no time zone"),
    (["assessment", "create", "--task", TASK, "--title", "T", "--max-upload-mb", "0"], "too small"),
    (["invite", "nosuch", "--candidate", "Ada"], "unknown assessment 'nosuch'"),
    (["interviewer", "create", " "], "needs a name"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v[:3]))
def test_mistakes_are_usage_errors_that_write_nothing(tmp_path, args, says):
    data = tmp_path / "service"
    code, output = admin(data, *args)
    assert code == 2, output
    assert says in " ".join(output.split()), output
    listed = admin_json(data, "list")
    assert listed["assessments"] == [] and listed["interviewers"] == []


def test_an_assessment_can_be_extended_and_a_lost_link_reissued(tmp_path):
    from grader.service.config import ServiceConfig
    from grader.service.store import open_store

    data = tmp_path / "service"
    made = admin_json(data, "assessment", "create", "--task", TASK, "--title", "Winter", "--deadline",
                      "2020-01-15T17:00:00Z", "--attempts", "1")
    invited = admin_json(data, "invite", made["id"], "--candidate", "Ada")

    moved = admin_json(data, "assessment", "update", made["id"], "--deadline", "2031-02-01T09:00:00+01:00",
                       "--attempts", "3")
    assert moved["deadline"].startswith("2031-02-01T08:00:00") and moved["attempts"] == 3
    cleared = admin_json(data, "assessment", "update", made["id"], "--deadline", "none", "--attempts", "none",
                         "--max-upload-mb", "5")
    assert (cleared["deadline"], cleared["attempts"], cleared["max_upload_bytes"]) == (None, None, 5 * 2**20)
    store = open_store(ServiceConfig(data=data))
    ada = store.principal(invited["token"])
    assert ada is not None and store.check_open(ada).id == made["id"]  # the past deadline no longer closes it

    again = admin_json(data, "reissue", invited["candidate_id"], "--url", "https://grader.example.com")
    assert again["url"] == f"https://grader.example.com/invite/{again['token']}"
    assert store.principal(invited["token"]) is None  # the lost link no longer works
    renewed = store.principal(again["token"])
    assert renewed is not None and renewed.id == invited["candidate_id"]


@pytest.mark.parametrize(("args", "says"), [
    (["assessment", "update", "ID"], "nothing to change"),
    (["assessment", "update", "nosuch", "--attempts", "2"], "unknown assessment 'nosuch'"),
    (["assessment", "update", "ID", "--attempts", "many"], "not a whole number"),
    (["assessment", "update", "ID", "--attempts", "0"], "at least 1"),
    (["assessment", "update", "ID", "--deadline", "soon"], "not an ISO 8601"),
    (["reissue", "nosuch"], "unknown candidate 'nosuch'"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v[:3]))
def test_update_and_reissue_mistakes_are_usage_errors_that_change_nothing(tmp_path, args, says):
    data = tmp_path / "service"
    made = admin_json(data, "assessment", "create", "--task", TASK, "--title", "T", "--attempts", "1")
    code, output = admin(data, *[made["id"] if a == "ID" else a for a in args])
    assert code == 2, output
    assert says in " ".join(output.split()), output
    (kept,) = admin_json(data, "list")["assessments"]
    assert (kept["attempts"], kept["deadline"]) == (1, None)
