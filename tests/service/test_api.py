"""The JSON API end to end, against a real ``grader serve`` process grading in the Docker sandbox: a hand-in
followed from queued to graded and its report files read back, who may call which endpoint (a table with a
row per endpoint and a column per caller), what the upload refuses and that a refusal stores nothing and
costs no attempt, a candidate's crash, tokens kept only hashed, and the OpenAPI listing.

One server serves the module; its two gradings (a crashing submission, then a valid one queued behind it)
are made once, by :func:`handed_in`. Every other upload is refused or is settled at once as ``invalid``
(a broken ``submission.yaml``: nothing reaches the sandbox)."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import sqlite3
import stat
import tarfile
import time
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from grader.service.tokens import csrf_for
from grader.submission.intake import MAX_BYTES, MAX_FILES
from tests.helpers import make_submission
from tests.service.conftest import Service, auth, zipped

pytestmark = [pytest.mark.docker]

#: A training that crashes: the grading ends ``graded`` with the log's tail in the failure's detail.
CRASH_TRAIN = "raise RuntimeError('boom from the candidate train.py')\n"
#: An upload the intake takes and the grading settles at once as ``invalid`` (a cheap attempt).
BROKEN_MANIFEST = "task: [\n"
#: Every endpoint of the API, as OpenAPI names it.
API_PATHS = {
    "/api/me": {"get"},
    "/api/submissions": {"post"},
    "/api/submissions/{submission_id}": {"get"},
    "/api/submissions/{submission_id}/{name}": {"get"},
    "/api/submissions/{submission_id}/reviews": {"post"},
    "/api/assessments": {"get"},
    "/api/assessments/{assessment_id}/submissions": {"get"},
    "/api/assessments/{assessment_id}/cohort.csv": {"get"},
    "/api/queue": {"get"},
}
CANDIDATE_FILES = ["report.json", "report.md", "report.html", "junit.xml"]


# -- the module's server, its people and its two gradings ------------------------------------------------------

@pytest.fixture(scope="module")
def server(module_service: Service) -> Service:
    return module_service


@dataclass(frozen=True)
class People:
    assessment: str
    owner: str  # alice: the submissions below are hers
    other: str  # bob: a candidate of the same assessment
    interviewer: str


@pytest.fixture(scope="module")
def people(server: Service) -> People:
    assessment = server.assessment(title="API", attempts="3")
    return People(assessment, server.invite(assessment, "Alice"), server.invite(assessment, "Bob"),
                  server.interviewer("Ivy"))


@dataclass(frozen=True)
class HandedIn:
    crash: dict[str, Any]  # the upload's 202 answer
    mini: dict[str, Any]
    trail: list[dict[str, Any]]  # every answer of GET /api/submissions/{mini} until it was graded
    early_report: int  # GET .../report.json while the mini submission was still queued


@pytest.fixture(scope="module")
def handed_in(server: Service, people: People, tmp_path_factory: pytest.TempPathFactory) -> HandedIn:
    """Alice hands in a crashing submission, then a valid one, which waits behind it on the one worker; the
    valid one is followed closely until it is graded."""
    folder = tmp_path_factory.mktemp("handed-in")
    crash = server.upload(people.owner, zipped(make_submission(folder / "crash", train=CRASH_TRAIN)))
    mini = server.upload(people.owner, zipped(make_submission(folder / "mini")))
    assert (crash.status_code, mini.status_code) == (202, 202), crash.text + mini.text
    mini_id = mini.json()["id"]
    early = server.get(f"/api/submissions/{mini_id}/report.json", people.owner).status_code
    trail: list[dict[str, Any]] = []
    deadline = time.monotonic() + 240
    while not trail or trail[-1]["status"] not in ("graded", "invalid", "error"):
        assert time.monotonic() < deadline, f"not graded: {trail[-1:]}; {server.log_text()[-3000:]}"
        answer = server.get(f"/api/submissions/{mini_id}", people.owner)
        assert answer.status_code == 200, answer.text
        trail.append(answer.json())
        time.sleep(0.1)
    server.wait(crash.json()["id"], people.owner)
    return HandedIn(crash.json(), mini.json(), trail, early)


def me(server: Service, token: str) -> dict[str, Any]:
    answer = server.get("/api/me", token)
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- 1. upload, watch, read ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_an_upload_is_queued_then_runs_then_is_graded_and_its_reports_can_be_read(server, people, handed_in):
    accepted = handed_in.mini
    assert set(accepted) == {"id", "status", "url"}
    assert accepted["status"] == "queued" and accepted["url"] == f"/api/submissions/{accepted['id']}"
    assert handed_in.early_report == 404  # no report before the grading ends

    statuses = [a["status"] for a in handed_in.trail]
    assert [s for i, s in enumerate(statuses) if i == 0 or statuses[i - 1] != s] == ["queued", "running", "graded"]
    for answer in handed_in.trail:
        if answer["status"] == "queued":
            assert isinstance(answer["position"], int) and answer["position"] >= 1, answer
            assert answer["phase"] is None and answer["elapsed_s"] is None
        elif answer["status"] == "running":
            assert answer["position"] is None
            assert isinstance(answer["phase"], str) and answer["phase"], answer
            assert isinstance(answer["elapsed_s"], float) and answer["elapsed_s"] >= 0, answer
    assert any(a["status"] == "queued" and a["position"] == 1 for a in handed_in.trail)  # next, once the crash runs

    sid = accepted["id"]
    final = server.get(f"/api/submissions/{sid}", people.owner).json()
    assert final["status"] == "graded" and final["phase"] is None and final["position"] is None
    assert final["tries"] == 1 and final["attempt"] == 2 and final["attempts_allowed"] == 3
    assert isinstance(final["score"], float) and final["outcome"] and final["finished_at"]
    assert final["failures"] == [] and final["reason"].startswith("graded: ")
    assert [e["status"] for e in final["events"]] == ["queued", "running", "graded"]
    assert sorted(final["report_files"]) == sorted(CANDIDATE_FILES)

    media = {"report.json": "application/json", "report.html": "text/html", "report.md": "text/markdown",
             "junit.xml": "application/xml"}
    for name, kind in media.items():
        answer = server.get(f"/api/submissions/{sid}/{name}", people.owner)
        assert answer.status_code == 200, (name, answer.text)
        assert answer.headers["content-type"].startswith(kind) and answer.content, name
        assert answer.headers["cache-control"] == "no-store"
    report = server.get(f"/api/submissions/{sid}/report.json", people.owner).json()
    assert report["score"] == server.get(f"/api/submissions/{sid}", people.owner).json()["score"]
    assert report["status"] == "graded" and report["submission"]["sha256"]

    # The predictions on the hidden rows are the interviewers': a candidate is told they do not exist.
    for name in ("predictions.csv", "reviews.json", "task.yaml", "upload.zip", "%2e%2e"):
        refused = server.get(f"/api/submissions/{sid}/{name}", people.owner)
        assert refused.status_code == 404 and refused.json()["hint"], (name, refused.text)
    predictions = server.get(f"/api/submissions/{sid}/predictions.csv", people.interviewer)
    assert predictions.status_code == 200 and predictions.headers["content-type"].startswith("text/csv")
    assert predictions.text.count("\n") > 10
    seen_by_interviewer = server.get(f"/api/submissions/{sid}", people.interviewer).json()
    assert "predictions.csv" in seen_by_interviewer["report_files"]


@pytest.mark.slow
def test_every_grading_of_the_service_is_logged_to_mlflow(server, people, handed_in):
    """The report names its MLflow run, and the run is in the real store the server logs to, tagged as the
    service's, with the grading's score."""
    from mlflow.tracking import MlflowClient

    report = server.get(f"/api/submissions/{handed_in.mini['id']}/report.json", people.owner).json()
    logged = report["environment"]["mlflow"]
    assert logged and logged["run_id"], report.get("warnings")
    run = MlflowClient(tracking_uri=os.environ["MLFLOW_TRACKING_URI"]).get_run(logged["run_id"])
    assert run.data.tags["grader.batch"] == "service"
    assert run.data.metrics["score"] == pytest.approx(report["score"])


# -- 4. a candidate's crash ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_crashing_submission_is_graded_with_its_log_tail_and_counts_as_an_attempt(server, people, handed_in):
    crashed = server.get(f"/api/submissions/{handed_in.crash['id']}", people.owner).json()
    assert crashed["status"] == "graded" and crashed["tries"] == 1 and crashed["attempt"] == 1, crashed
    assert crashed["passed"] is False
    train = [f for f in crashed["failures"] if f["phase"] == "train"]
    assert train and train[0]["kind"] == "crash", crashed["failures"]
    assert "Traceback" in train[0]["detail"] and "boom from the candidate train.py" in train[0]["detail"]
    home = me(server, people.owner)["home"]
    assert (home["attempts_used"], home["attempts_left"]) == (2, 1)  # the crash and the valid one both count
    assert {s["id"]: s["status"] for s in home["submissions"]} == {
        handed_in.crash["id"]: "graded", handed_in.mini["id"]: "graded"}


# -- 2. who may call what ------------------------------------------------------------------------------------

CALLERS = ("owner", "other", "interviewer", "anonymous", "unknown", "malformed", "bearer-without-token")
#: Expected status per endpoint and caller. POST /api/submissions carries a file the upload refuses (422): past
#: every check of who is asking, and nothing is stored. A candidate's review is refused for being a candidate.
MATRIX: dict[str, dict[str, int]] = {
    "GET /api/me":                              {"owner": 200, "other": 200, "interviewer": 200, "anonymous": 401},
    "POST /api/submissions":                    {"owner": 422, "other": 422, "interviewer": 403, "anonymous": 401},
    "GET /api/submissions/{id}":                {"owner": 200, "other": 404, "interviewer": 200, "anonymous": 401},
    "GET /api/submissions/{id}/report.json":    {"owner": 200, "other": 404, "interviewer": 200, "anonymous": 401},
    "POST /api/submissions/{id}/reviews":       {"owner": 403, "other": 403, "interviewer": 200, "anonymous": 401},
    "GET /api/assessments":                     {"owner": 403, "other": 403, "interviewer": 200, "anonymous": 401},
    "GET /api/assessments/{a}/submissions":     {"owner": 403, "other": 403, "interviewer": 200, "anonymous": 401},
    "GET /api/assessments/{a}/cohort.csv":      {"owner": 403, "other": 403, "interviewer": 200, "anonymous": 401},
    "GET /api/queue":                           {"owner": 200, "other": 200, "interviewer": 200, "anonymous": 401},
}
#: A token nobody was given, and Authorization headers that hold no bearer token: 401 everywhere.
for _row in MATRIX.values():
    _row.update({"unknown": 401, "malformed": 401, "bearer-without-token": 401})


def _headers(caller: str, people: People) -> dict[str, str]:
    tokens = {"owner": people.owner, "other": people.other, "interviewer": people.interviewer}
    if caller in tokens:
        return auth(tokens[caller])
    return {"anonymous": {}, "unknown": auth("cand_" + "x" * 43),
            "malformed": {"Authorization": "Basic YWxpY2U6c2VjcmV0"},
            "bearer-without-token": {"Authorization": "Bearer"}}[caller]


def _review_of(server: Service, people: People, submission_id: str) -> dict[str, Any]:
    report = server.get(f"/api/submissions/{submission_id}/report.json", people.interviewer).json()
    criterion = next(c for s in report["rubric"]["sections"] for c in s["criteria"] if c["max_points"] > 0)
    return {"criterion": criterion["id"], "points": criterion["max_points"], "note": "checked by hand"}


def test_the_matrix_has_a_row_per_endpoint_and_a_column_per_caller():
    assert {k.split(" ", 1)[1].replace("{a}", "{assessment_id}").replace("{id}", "{submission_id}")
            .replace("report.json", "{name}") for k in MATRIX} == set(API_PATHS)
    assert all(set(row) == set(CALLERS) for row in MATRIX.values())


@pytest.mark.slow
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", MATRIX)
def test_who_may_call_what(server, people, handed_in, endpoint, caller):
    method, template = endpoint.split(" ", 1)
    sid = handed_in.mini["id"]
    path = template.replace("{id}", sid).replace("{a}", people.assessment)
    headers = _headers(caller, people)
    if endpoint == "POST /api/submissions":
        answer = requests.post(server.base + path, headers=headers, timeout=30,
                               files={"file": ("notes.txt", b"not an archive", "text/plain")})
    elif endpoint.endswith("/reviews"):
        answer = requests.post(server.base + path, headers=headers, timeout=30,
                               json=_review_of(server, people, sid))
    else:
        answer = requests.get(server.base + path, headers=headers, timeout=30)
    expected = MATRIX[endpoint][caller]
    assert answer.status_code == expected, f"{endpoint} as {caller}: {answer.status_code} {answer.text[:500]}"
    if expected >= 400:
        body = answer.json()
        assert set(body) == {"detail", "hint"} and body["detail"], body
    if expected == 401:
        assert body["hint"] and "Bearer" in body["hint"] and answer.headers["www-authenticate"] == "Bearer"
    if endpoint == "POST /api/submissions" and expected == 422:
        assert "not a .zip or .tar.gz" in answer.json()["detail"]
    if endpoint == "GET /api/submissions/{id}" and expected == 200:
        assert answer.json()["id"] == sid and answer.json()["candidate"] == "Alice"
    if endpoint == "GET /api/assessments/{a}/cohort.csv" and expected == 200:
        assert answer.headers["content-type"].startswith("text/csv") and sid in answer.text
    if endpoint.endswith("/reviews") and expected == 200:
        view = answer.json()
        assert view["score"] == server.get(f"/api/submissions/{sid}/report.json", people.owner).json()["score"]
        assert "reviewed by Ivy" in view["events"][-1]["message"]
    if endpoint == "GET /api/me" and expected == 200:
        body = answer.json()
        assert body["kind"] == ("interviewer" if caller == "interviewer" else "candidate")
        assert (body["home"] is None) == (caller == "interviewer")


@pytest.mark.slow
def test_someone_elses_submission_and_a_made_up_one_are_refused_alike(server, people, handed_in):
    """A candidate cannot tell another candidate's submission id from one that does not exist."""
    sid = handed_in.mini["id"]
    for suffix in ("", "/report.json"):
        theirs = server.get(f"/api/submissions/{sid}{suffix}", people.other)
        made_up = server.get(f"/api/submissions/{'0' * 16}{suffix}", people.other)
        assert theirs.status_code == made_up.status_code == 404
        assert theirs.json() == {k: v.replace("0" * 16, sid) for k, v in made_up.json().items()}
    assert me(server, people.other)["home"]["submissions"] == []


@pytest.mark.parametrize(("method", "path", "status"), [("get", "/api/nope", 404), ("post", "/api/me", 405),
                                                        ("get", "/api/submissions", 405)])
def test_a_path_or_method_the_api_does_not_have_is_answered_like_any_refusal(server, people, method, path, status):
    answer = getattr(requests, method)(server.base + path, headers=auth(people.owner), timeout=30)
    assert answer.status_code == status
    assert set(answer.json()) == {"detail", "hint"} and path in answer.json()["detail"] and answer.json()["hint"]


# -- 3. bad input ------------------------------------------------------------------------------------------

def kept(server: Service) -> set[str]:
    """What the server keeps of uploads: the submissions' folders, and anything being received."""
    return {p.relative_to(server.data).as_posix() for d in ("submissions", "incoming")
            if (server.data / d).is_dir() for p in (server.data / d).iterdir()}


def nothing_counted(server: Service, candidate: str, assessment: str, interviewer: str) -> None:
    home = me(server, candidate)["home"]
    assert home["submissions"] == [] and home["attempts_used"] == 0 and home["open"], home
    listed = server.get(f"/api/assessments/{assessment}/submissions", interviewer)
    assert listed.status_code == 200 and listed.json() == []


def zip_of(entries: Iterable[tuple[zipfile.ZipInfo | str, bytes]],
           compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        archive.writestr("submission.yaml", "task: tabular/credit-default\ntrain: python train.py\n")
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_link(name: str, target: str) -> bytes:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return zip_of([(info, target.encode())])


def tar_link(name: str, target: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        manifest = b"task: tabular/credit-default\n"
        info = tarfile.TarInfo("submission.yaml")
        info.size = len(manifest)
        archive.addfile(info, io.BytesIO(manifest))
        link = tarfile.TarInfo(name)
        link.type, link.linkname = tarfile.SYMTYPE, target
        archive.addfile(link)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """One entry of zeros a little over the intake's byte cap, deflated to a few kilobytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as out:
            block = bytes(1 << 20)
            for _ in range(MAX_BYTES // len(block) + 10):
                out.write(block)
    return buffer.getvalue()


#: Archives the upload refuses with 422: (file name, its bytes, what "detail" says).
HOSTILE: dict[str, tuple[str, Any, str]] = {
    "zip-symlink-out": ("s.zip", lambda: zip_link("data.csv", "../../../../etc/passwd"), "'data.csv' is a link"),
    "tar-symlink-out": ("s.tar.gz", lambda: tar_link("data.csv", "/etc/passwd"), "'data.csv' is a link"),
    "absolute-path": ("s.zip", lambda: zip_of([("/etc/passwd", b"root:x:0:0")]), "'/etc/passwd' has an absolute"),
    "dot-dot": ("s.zip", lambda: zip_of([("../evil", b"x")]), "'../evil' has an absolute path or '..'"),
    "too-many-files": ("s.zip", lambda: zip_of((f"f/{i}.txt", b"x") for i in range(MAX_FILES + 1)),
                       f"more than {MAX_FILES} files"),
    "zip-bomb": ("s.zip", zip_bomb, f"larger than {MAX_BYTES // 2**20} MB"),
    "not-a-zip-inside": ("s.zip", lambda: os.urandom(4096), "is not a readable .zip archive"),
    "not-an-archive": ("x.txt", lambda: b"print('hello')\n", "'x.txt' is not a .zip or .tar.gz archive"),
    "empty": ("s.zip", lambda: b"", "'s.zip' is empty"),
}
#: Where the intake itself refused (not the upload's own checks of the file name and size).
BY_THE_INTAKE = {"zip-symlink-out", "tar-symlink-out", "absolute-path", "dot-dot", "too-many-files", "zip-bomb",
                 "not-a-zip-inside"}


@pytest.fixture(scope="module")
def refused_candidate(server: Service, people: People) -> tuple[str, str]:
    """A candidate with one attempt, whose every upload in this module is refused: (assessment, token)."""
    assessment = server.assessment(title="Refusals", attempts="1")
    return assessment, server.invite(assessment, "Mallory")


@pytest.mark.parametrize("case", HOSTILE)
def test_a_hostile_or_broken_archive_is_refused_with_422_and_costs_nothing(server, people, refused_candidate, case):
    assessment, token = refused_candidate
    filename, make, message = HOSTILE[case]
    before = kept(server)
    answer = server.upload(token, make(), filename)
    assert answer.status_code == 422, answer.text[:500]
    body = answer.json()
    assert message in body["detail"] and body["hint"], body
    if case in BY_THE_INTAKE:
        assert body["detail"].startswith("the archive was refused: "), body
    assert kept(server) == before
    nothing_counted(server, token, assessment, people.interviewer)


@pytest.mark.parametrize("request_kind", ["json", "form-without-file", "two-files"])
def test_an_upload_that_is_no_form_with_one_file_is_refused_with_422(server, people, refused_candidate,
                                                                    request_kind):
    assessment, token = refused_candidate
    if request_kind == "json":
        answer = server.post("/api/submissions", token, json={"file": "c3VibWlzc2lvbg=="})
        message = "multipart/form-data"
    elif request_kind == "form-without-file":
        answer = server.post("/api/submissions", token, files={"other": ("s.zip", b"PK", "application/zip")})
        message = "no file in the field 'file'"
    else:
        answer = server.post("/api/submissions", token, files=[("file", ("a.zip", b"PK", "application/zip")),
                                                               ("file", ("b.zip", b"PK", "application/zip"))])
        message = "not a readable form"
    assert answer.status_code == 422, answer.text[:500]
    assert message in answer.json()["detail"] and answer.json()["hint"]
    nothing_counted(server, token, assessment, people.interviewer)


def multipart(filename: str, content: bytes, boundary: str) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: application/zip\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()


def status_of_raw_post(server: Service, token: str, body: bytes, content_type: str, *, chunked: bool) -> int:
    """POST ``body`` over a plain socket and read the status line. The server may answer (and stop reading)
    before the body is all sent; a client that cannot send the rest still gets the answer."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head = (f"POST /api/submissions HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: {content_type}\r\n{framing}\r\nConnection: close\r\n\r\n").encode()
    pieces = [body[i:i + 16384] for i in range(0, len(body), 16384)]
    if chunked:
        pieces = [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        try:
            for piece in pieces:
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = b""
        while b"\r\n" not in answer:
            got = sock.recv(4096)
            if not got:
                break
            answer += got
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize("how", ["declared", "declared-under-envelope", "chunked", "raw-declared", "raw-chunked"])
def test_an_upload_over_the_cap_gets_413_and_nothing_is_kept(server, people, how):
    """The cap (50 KiB here) holds for a body that declares its length, for one that declares less than the
    cap plus the form's envelope but carries a larger file, and for a chunked body that declares nothing."""
    assessment = server.assessment(title="Small uploads", max_upload_mb="0.05", attempts="1")
    token = server.invite(assessment, "Oscar")
    size = 60 * 1024 if how == "declared-under-envelope" else 200 * 1024
    archive = zip_of([("weights.bin", os.urandom(size))], compression=zipfile.ZIP_STORED)
    boundary = uuid.uuid4().hex
    body, content_type = multipart("s.zip", archive, boundary), f"multipart/form-data; boundary={boundary}"
    before = kept(server)
    if how.startswith("raw-"):
        status = status_of_raw_post(server, token, body, content_type, chunked=how == "raw-chunked")
    else:
        data: bytes | Iterator[bytes] = body if how != "chunked" else (
            body[i:i + 16384] for i in range(0, len(body), 16384))
        answer = server.post("/api/submissions", token, data=data, headers={"Content-Type": content_type})
        assert answer.request.headers.get("Transfer-Encoding") == ("chunked" if how == "chunked" else None)
        status = answer.status_code
        assert status == 413, answer.text[:500]
        assert "over this assessment's cap of 51 KiB" in answer.json()["detail"] and answer.json()["hint"]
    assert status == 413
    assert kept(server) == before
    nothing_counted(server, token, assessment, people.interviewer)


# -- closed assessments, attempts, CSRF ----------------------------------------------------------------------

def broken_manifest(tmp_path: Path) -> bytes:
    return zipped(make_submission(tmp_path / "broken", manifest=BROKEN_MANIFEST))


def test_an_upload_after_the_deadline_gets_403_naming_the_deadline(server, people, tmp_path):
    assessment = server.assessment(title="Closed", deadline="2020-01-02T03:04:05+00:00")
    token = server.invite(assessment, "Late")
    answer = server.upload(token, broken_manifest(tmp_path))
    assert answer.status_code == 403, answer.text
    assert "2020-01-02T03:04:05+00:00" in answer.json()["detail"] and answer.json()["hint"]
    home = me(server, token)["home"]
    assert not home["open"] and "2020-01-02T03:04:05+00:00" in home["closed_reason"]
    assert home["submissions"] == []


def test_an_upload_beyond_the_attempts_gets_409(server, people, tmp_path):
    assessment = server.assessment(title="One go", attempts="1")
    token = server.invite(assessment, "Once")
    first = server.upload(token, broken_manifest(tmp_path))
    assert first.status_code == 202, first.text
    again = server.upload(token, broken_manifest(tmp_path))
    assert again.status_code == 409, again.text
    assert "all 1 attempts" in again.json()["detail"] and again.json()["hint"]
    assert server.wait(first.json()["id"], token)["status"] == "invalid"  # a broken contract counts
    home = me(server, token)["home"]
    assert (home["attempts_used"], home["attempts_left"], home["open"], len(home["submissions"])) == (1, 0, False, 1)


def test_a_cookie_upload_needs_its_sessions_csrf_token(server, people, tmp_path):
    assessment = server.assessment(title="Cookies", attempts="2")
    token = server.invite(assessment, "Carla")
    other = server.invite(assessment, "Dan")
    archive = broken_manifest(tmp_path)

    def upload(**fields: str) -> requests.Response:
        return requests.post(server.base + "/api/submissions", cookies={"grader_token": token}, data=fields,
                             files={"file": ("s.zip", archive, "application/zip")}, timeout=60)

    for fields in ({}, {"csrf_token": ""}, {"csrf_token": csrf_for(other)}, {"csrf_token": "0" * 32}):
        refused = upload(**fields)
        assert refused.status_code == 403, (fields, refused.text)
        assert "CSRF" in refused.json()["detail"] and refused.json()["hint"]
    assert me(server, token)["home"]["attempts_used"] == 0
    accepted = upload(csrf_token=csrf_for(token))
    assert accepted.status_code == 202 and accepted.json()["status"] == "queued", accepted.text
    by_header = requests.post(server.base + "/api/submissions", timeout=60,
                              cookies={"grader_token": token}, headers={"X-CSRF-Token": csrf_for(token)},
                              files={"file": ("s.zip", archive, "application/zip")})
    assert by_header.status_code == 202, by_header.text
    assert me(server, token)["home"]["attempts_used"] == 2
    for answer in (accepted, by_header):
        server.wait(answer.json()["id"], token)


# -- tokens at rest -----------------------------------------------------------------------------------------

def test_tokens_are_stored_only_as_their_sha256(server, people):
    database = server.data / "grader.db"
    files = b"".join(p.read_bytes() for p in (database, database.with_name("grader.db-wal")) if p.is_file())
    values: list[str] = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in db.execute(f'SELECT * FROM "{table}"'):
                values += [str(v) for v in row]
        hashes = {h for (h,) in db.execute("SELECT token_hash FROM candidates UNION SELECT token_hash FROM "
                                           "interviewers")}
    for token in (people.owner, people.other, people.interviewer):
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert token.encode() not in files and not any(token in v for v in values)
        assert digest in hashes and digest.encode() in files
        assert token not in server.log_text()


# -- 5. the API's own description ----------------------------------------------------------------------------

def test_openapi_lists_every_api_path(server):
    schema = server.get("/openapi.json").json()
    listed = {path: set(methods) for path, methods in schema["paths"].items() if path.startswith("/api/")}
    assert listed == API_PATHS
    upload = schema["paths"]["/api/submissions"]["post"]
    assert "file" in upload["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert {"202", "401", "403", "409", "413", "422"} <= set(upload["responses"])
