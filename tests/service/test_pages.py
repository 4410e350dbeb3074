"""The service's pages in a real headless chromium, against a real ``grader serve`` grading in the Docker sandbox.

A candidate opens their invitation link, reads the assessment, downloads the starter kit, hands in through the
upload form and watches the status page follow the grading by itself to the result; a broken hand-in shows why
it failed with the log's tail, and a refused upload (too large, hostile, not an archive) shows the reason with
its status. An interviewer signs in with the form, opens the cohort and a graded submission, records a review
and exports the cohort. A form posted without its CSRF token is refused with 403.

Every page is checked for JavaScript errors, unexpected console errors and requests that leave the server; a
full-page screenshot of each key page is kept in ``out/test-artifacts/service/`` for a person to look at. Without
chromium the tests are skipped, except when ``CI=true``: then they fail, like the docker tests."""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grader.report.format import points
from tests.helpers import MINI_TRAIN, QUESTIONS, TASK_ID, make_submission
from tests.service.conftest import GRADED_WITHIN_S, Service, zipped

pytestmark = [pytest.mark.browser, pytest.mark.docker]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "test-artifacts" / "service"
DEADLINE = "2099-01-01T12:00:00+00:00"
#: A title with markup in it: the pages must show it as text.
TITLE = "Credit take-home <b>2026</b>"
#: A training that takes a while, so the status page is seen following a running grading.
SLOW_TRAIN = "import time\ntime.sleep(8)\n" + MINI_TRAIN
#: A training that crashes: graded, with the traceback's tail in the failure's detail.
CRASH_TRAIN = "def fit():\n    raise RuntimeError('the model would not converge (page test)')\n\nfit()\n"
FINAL = ("graded", "invalid", "error")
GRADED_WITHIN_MS = GRADED_WITHIN_S * 1000
SUBMISSION_URL = re.compile(r"/submissions/([\w-]+)$")


# -- the server (the browser is tests/conftest.py's `chromium`) ------------------------------------------

@pytest.fixture(scope="module")
def server(module_service: Service) -> Service:
    """The module's ``grader serve``; each test makes its own assessment and people on it."""
    return module_service


class Visitor:
    """One person's browser (a context of its own: its own cookies) on the service, with every JavaScript
    error, console error and request off the server its pages made."""

    def __init__(self, chromium: Any, service: Service) -> None:
        self.base = service.base
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.offsite: list[str] = []
        #: Statuses a test provokes on purpose: the console reports each as a resource that failed to load.
        self.expected_statuses: set[int] = set()
        self.context = chromium.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda exc: self.page_errors.append(f"{self.page.url}: {exc}"))
        self.page.on("console", lambda msg: self.console_errors.append(f"{self.page.url}: {msg.text}")
                     if msg.type == "error" else None)

    def _route(self, route: Any) -> None:
        if route.request.url.startswith(self.base + "/"):
            route.continue_()
        else:
            self.offsite.append(route.request.url)
            route.abort()

    def goto(self, path: str, status: int = 200) -> Any:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == status, (path, response and response.status)
        return response

    def submit(self, button: str, status: int = 200) -> Any:
        """Click a form's submit button and follow it to the page it ends on (after any redirect)."""
        with self.page.expect_navigation() as navigation:
            self.page.click(button)
        response = navigation.value
        assert response is not None and response.status == status, (button, response and response.status,
                                                                     self.text("#error"))
        return response

    def text(self, selector: str) -> str:
        found = self.page.query_selector(selector)
        return "" if found is None else found.inner_text()

    def shot(self, name: str) -> Path:
        """A full-page screenshot of the page as it stands, kept for a person to look at."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        path = SCREENSHOTS / name
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.context.close()
        expected = {f"the server responded with a status of {code} " for code in self.expected_statuses}
        assert self.page_errors == [], "the pages raised JavaScript errors"
        assert [e for e in self.console_errors if not any(x in e for x in expected)] == [], "console errors"
        assert self.offsite == [], "the pages asked for something off the server"


@pytest.fixture()
def visitors(chromium: Any, server: Service) -> Iterator[Any]:
    """Open a browser for a person: ``visitors()``; each is checked for errors when the test ends."""
    opened: list[Visitor] = []

    def open_one() -> Visitor:
        opened.append(Visitor(chromium, server))
        return opened[-1]

    yield open_one
    for visitor in opened:
        visitor.close()


def archive(folder: Path, name: str) -> Path:
    """``folder`` zipped as ``name`` beside it: the file a candidate picks in the upload form."""
    path = folder.parent / name
    zipped(folder, path)
    return path


def statement_title(service: Service) -> str:
    return (service.tasks / TASK_ID / "README.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")


# -- a candidate ---------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_candidate_hands_in_and_follows_the_grading(server, visitors, tmp_path):
    assessment = server.assessment(title=TITLE, attempts="3", deadline=DEADLINE)
    token = server.invite(assessment, "Alice")
    alice = visitors()
    page = alice.page

    # The invitation link signs in with an HttpOnly cookie and leaves the address bar.
    alice.goto(f"/invite/{token}")
    assert page.url == server.base + "/"
    cookie = next(c for c in alice.context.cookies() if c["name"] == "grader_token")
    assert cookie["value"] == token and cookie["httpOnly"]
    assert token not in page.evaluate("document.cookie")

    # What the assessment is: its title (as text), deadline, attempts, the statement and the questions.
    assert alice.text("h1") == TITLE and page.query_selector("h1 b") is None
    assert "deadline 2099-01-01 12:00 UTC" in alice.text(".facts")
    assert alice.text("#attempts-left") == "3" and "3 of 3 attempts left" in alice.text(".facts")
    assert statement_title(server) in alice.text(".statement")
    assert page.locator(".statement table").count() >= 2  # the data's files and columns, the limits
    questions = alice.text("#questions")
    assert all(q in questions for q in QUESTIONS)
    assert page.query_selector("#attempts") is None  # nothing handed in yet
    alice.shot("candidate-home.png")

    # The starter kit.
    with page.expect_download() as download:
        page.click("#kit-link")
    assert download.value.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(download.value.path()) as kit:
        names = kit.namelist()
    assert "README.md" in names and any(n.startswith("submission/") for n in names), names

    # Hand in through the form: the status page of the new submission.
    page.set_input_files("#file", str(archive(make_submission(tmp_path / "slow", train=SLOW_TRAIN), "slow.zip")))
    alice.submit("#upload-form button[type=submit]")
    found = SUBMISSION_URL.search(page.url)
    assert found, page.url
    submission_id = found.group(1)
    first = page.evaluate("""() => {
        window.__firstLoad = true;
        return [document.getElementById("status-word").textContent.trim(),
                document.getElementById("status-detail").textContent.trim()];
    }""")
    assert first[0] in ("queued", "running"), first

    # The page follows the grading by itself: running, its phase and time updated in place...
    page.wait_for_function("""([word, detail]) => {
        const now = document.getElementById("status-word");
        return window.__firstLoad === true && now.textContent === "running"
            && (word !== "running" || document.getElementById("status-detail").textContent.trim() !== detail);
    }""", arg=first, timeout=GRADED_WITHIN_MS, polling=200)
    assert re.search(r"\d+ s$", alice.text("#status-detail")), alice.text("#status-detail")
    alice.shot("candidate-status-running.png")

    # ...then, once it ended, the page reloads itself with the result.
    page.wait_for_selector("#status[data-status=graded]", timeout=GRADED_WITHIN_MS)
    assert page.evaluate("window.__firstLoad") is None, "the result came without the page reloading"
    assert page.url.endswith(f"/submissions/{submission_id}")
    result = server.get(f"/api/submissions/{submission_id}", token).json()
    assert result["status"] == "graded"
    assert alice.text("#status-word") == "graded"
    assert f"{points(result['score'])} / 100" in alice.text("#status-detail")
    assert "not passed" in alice.text("#status-detail")  # the majority class catches no bad loan
    links = page.eval_on_selector_all("#report a", "as => as.map(a => a.getAttribute('href'))")
    assert links == [f"/submissions/{submission_id}/files/{name}"
                     for name in ("report.json", "report.md", "report.html", "junit.xml")]
    report = page.request.get(server.base + links[0])
    assert report.status == 200 and report.json()["score"] == result["score"]
    assert page.get_attribute("iframe.report", "src") == f"/submissions/{submission_id}/files/report.html"
    frame = page.frame_locator("iframe.report")
    frame.locator("text=NOT PASSED").first.wait_for(timeout=10_000)
    assert "Alice" in frame.locator("h1").first.inner_text()
    assert page.query_selector("#failures") is None and page.query_selector("#review-form") is None
    alice.shot("candidate-result.png")

    # Back on the start page: the attempt is listed with its score, one attempt fewer left.
    page.click("text=Your assessment")
    page.wait_for_url(server.base + "/")
    row = alice.text("#attempts tbody tr")
    assert "slow.zip" in row and "graded" in row and points(result["score"]) in row
    assert alice.text("#attempts-left") == "2"


@pytest.mark.slow
def test_candidate_sees_why_a_grading_failed(server, visitors, tmp_path):
    assessment = server.assessment(title="Broken hand-ins")
    bob = visitors()
    bob.goto(f"/invite/{server.invite(assessment, 'Bob')}")

    # No submission.yaml: invalid, said in words, without running anything.
    folder = make_submission(tmp_path / "no-manifest")
    (folder / "submission.yaml").unlink()
    bob.page.set_input_files("#file", str(archive(folder, "no-manifest.zip")))
    bob.submit("#upload-form button[type=submit]")
    bob.page.wait_for_selector("#status[data-status=invalid]", timeout=GRADED_WITHIN_MS)
    assert "submission.yaml is missing" in bob.text("#status-reason")
    assert "submission.yaml is missing" in bob.text("#failures")

    # A training that raises: graded, with what went wrong and the log's tail.
    bob.goto("/")
    bob.page.set_input_files("#file", str(archive(make_submission(tmp_path / "crash", train=CRASH_TRAIN),
                                                  "crash.zip")))
    bob.submit("#upload-form button[type=submit]")
    bob.page.wait_for_selector("#status[data-status=graded]", timeout=GRADED_WITHIN_MS)
    failures = bob.text("#failures")
    assert "What went wrong" in failures and "train" in failures and "crash" in failures
    tail = bob.text("#failures pre")
    assert "Traceback" in tail and "RuntimeError: the model would not converge (page test)" in tail
    assert bob.page.is_visible("#failures pre")  # the tail is open, not folded away
    assert "report.html" in bob.text("#report")
    bob.page.frame_locator("iframe.report").locator("text=NOT PASSED").first.wait_for(timeout=10_000)
    bob.shot("candidate-failure.png")

    bob.goto("/")
    assert [r.split("\t")[3] for r in bob.page.eval_on_selector_all(
        "#attempts tbody tr", "rs => rs.map(r => r.innerText)")] == ["graded", "invalid"]  # newest first


def test_refused_uploads_show_the_reason(server, visitors, tmp_path):
    assessment = server.assessment(title="Capped", attempts="2", max_upload_mb="0.5")
    token = server.invite(assessment, "Carol")
    carol = visitors()
    carol.expected_statuses |= {413, 422}
    carol.goto(f"/invite/{token}")
    assert "at most 512 KiB" in carol.text("#hand-in")

    # Over the cap (by the declared length, and by the bytes read under the envelope's allowance).
    for name, size in (("big.zip", 3 * 2**20), ("just-over.zip", 2**19 + 20_000)):
        big = tmp_path / name
        big.write_bytes(os.urandom(size))
        carol.page.set_input_files("#file", str(big))
        carol.submit("#upload-form button[type=submit]", status=413)
        error = carol.text("#error")
        assert "over this assessment's cap of 512 KiB" in error and "nothing was stored" in error, error
        assert "leave data, trained models" in error  # the hint
        if name == "big.zip":
            carol.shot("candidate-refused.png")
        assert carol.page.is_visible("#upload-form"), "the form is there to try again"

    # A hostile archive: a member climbing out of the folder.
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as out:
        out.writestr("submission.yaml", f"task: {TASK_ID}\ntrain: python train.py\npredict: model:load\n")
        out.writestr("../../escape.txt", "out of the folder")
    carol.page.set_input_files("#file", str(hostile))
    carol.submit("#upload-form button[type=submit]", status=422)
    assert "the archive was refused" in carol.text("#error") and "'..'" in carol.text("#error")

    # Not an archive at all.
    notes = tmp_path / "notes.txt"
    notes.write_text("my answers\n")
    carol.page.set_input_files("#file", str(notes))
    carol.submit("#upload-form button[type=submit]", status=422)
    assert "'notes.txt' is not a .zip or .tar.gz archive" in carol.text("#error")

    # Nothing was kept and no attempt was spent.
    carol.goto("/")
    assert carol.text("#attempts-left") == "2" and carol.page.query_selector("#attempts") is None
    assert carol.page.query_selector("#error") is None
    assert server.get("/api/me", token).json()["home"]["submissions"] == []


def test_form_posts_without_the_csrf_token_are_refused(server, visitors, mini_zip):
    assessment = server.assessment(title="CSRF")
    token = server.invite(assessment, "Dan")
    dan = visitors()
    dan.expected_statuses |= {401, 403}
    dan.goto(f"/invite/{token}")
    good = dan.page.get_attribute("#upload-form input[name=csrf_token]", "value")
    assert good

    # An upload with the session cookie but no token, or another session's: 403, nothing stored.
    upload = {"file": {"name": "submission.zip", "mimeType": "application/zip", "buffer": mini_zip}}
    for fields in ({}, {"csrf_token": "not-the-token"}):
        refused = dan.page.request.post(server.base + "/submit", multipart={**fields, **upload})
        assert refused.status == 403, (fields, refused.status)
        assert "CSRF token is missing or does not match" in refused.text()
    assert server.get("/api/me", token).json()["home"]["submissions"] == []

    # A form posted from the page's own script without the field: 403, and the session stays.
    status = dan.page.evaluate("""async () => {
        const response = await fetch("/logout", {method: "POST", body: new FormData()});
        return response.status;
    }""")
    assert status == 403
    dan.goto("/")
    assert "candidate: Dan" in dan.text("header")

    # The sign-in form has its own token (a cookie beside the field): without it, no sign-in.
    refused = dan.page.request.post(server.base + "/login", form={"token": token})
    assert refused.status == 401 and "the sign-in form expired" in refused.text()

    # With the form's own field, signing out works.
    dan.submit("header form button[type=submit]")
    assert dan.text("h1") == "Sign in"
    assert not [c for c in dan.context.cookies() if c["name"] == "grader_token"]


# -- an interviewer ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_interviewer_reviews_the_cohort(server, visitors, mini_zip, tmp_path):
    assessment = server.assessment(title="Cohort <i>spring</i>", attempts="2")
    erin, frank = server.invite(assessment, "Erin"), server.invite(assessment, "Frank")
    server.invite(assessment, "Grace")  # invited, nothing handed in
    crash = zipped(make_submission(tmp_path / "crash", train=CRASH_TRAIN))
    tokens = {"Erin": erin, "Frank": frank}
    handed = {name: server.upload(tokens[name], body).json()["id"] for name, body in
              (("Erin", mini_zip), ("Frank", crash))}
    done = {name: server.wait(handed[name], tokens[name]) for name in handed}
    assert {name: d["status"] for name, d in done.items()} == {"Erin": "graded", "Frank": "graded"}
    ivy_token = server.interviewer("Ivy")

    ivy = visitors()
    ivy.expected_statuses |= {400, 401, 403}
    page = ivy.page

    # Sign in by pasting the token: a wrong one is refused on the page, the right one opens the assessments.
    ivy.goto("/")
    assert ivy.text("h1") == "Sign in"
    page.fill("#token", "intv_not-a-token")
    ivy.submit("form.card button[type=submit]", status=401)
    assert "that token is not known here" in ivy.text("#error")
    page.fill("#token", ivy_token)
    ivy.submit("form.card button[type=submit]")
    assert page.url == server.base + "/" and ivy.text("h1") == "Assessments"
    assert "interviewer: Ivy" in ivy.text("header")
    row = page.locator("#assessments tbody tr", has_text="Cohort <i>spring</i>")
    assert row.count() == 1 and page.query_selector("#assessments i") is None
    assert row.inner_text().split("\t")[3:] == ["2", "3", "2"]  # attempts, candidates, submissions
    assert "worker(s)" in ivy.text("#queue")
    ivy.shot("interviewer-home.png")

    # The cohort: one row per candidate, and the compare table of their gradings.
    row.locator("a").click()
    page.wait_for_url(f"{server.base}/assessments/{assessment}")
    rows = {r.split("\t")[0]: r.split("\t") for r in page.eval_on_selector_all(
        "#cohort tbody tr", "rs => rs.map(r => r.innerText)")}
    assert sorted(rows) == ["Erin", "Frank", "Grace"]
    assert rows["Erin"][1:5] == ["1", "attempt 1", "graded", points(done["Erin"]["score"])]
    assert rows["Frank"][3:5] == ["graded", points(done["Frank"]["score"])]
    assert rows["Grace"][2] == "none yet" and "nothing handed in" in rows["Grace"][5]
    compare = page.frame_locator("iframe.compare")
    compare.locator("a", has_text="Erin (attempt 1)").wait_for(timeout=10_000)
    assert compare.locator("table:not(#similarity) tbody tr").count() == 2
    # The cohort's code, pair by pair: both hand in the test's own mini model, so the pair is flagged.
    assert compare.locator("#similarity tbody tr").first.inner_text().split("\t")[:2] == [
        "Erin (attempt 1)", "Frank (attempt 1)"]
    link = compare.locator("a", has_text="Erin (attempt 1)")
    target = link.evaluate("a => a.href")  # relative to the table: the service's route to the report file
    assert target.startswith(f"{server.base}/assessments/{assessment}/compare/{handed['Erin']}/report/"), target
    opened = page.request.get(target)
    assert opened.status == 200 and opened.headers["content-security-policy"].startswith("sandbox")
    ivy.shot("interviewer-cohort.png")

    # A graded submission, with the review form.
    page.click(f"#cohort a[href='/submissions/{handed['Erin']}']")
    page.wait_for_url(f"{server.base}/submissions/{handed['Erin']}")
    assert ivy.text("#status-word") == "graded"
    assert f"{points(done['Erin']['score'])} / 100" in ivy.text("#status-detail")
    assert "predictions.csv" in ivy.text("#report")  # an interviewer's files besides the candidate's
    assert page.query_selector("#reviews") is None
    options = page.eval_on_selector_all("#criterion option", "os => os.map(o => [o.value, o.textContent])")
    criterion, auto, most = next((value, float(m[1]), float(m[2])) for value, label in options
                                 if (m := re.search(r"\(([\d.]+) of ([\d.]+)\)", label)) and float(m[1]) < float(m[2]))

    # Without the form's CSRF token, the review is refused and nothing is recorded.
    refused = page.request.post(f"{server.base}/submissions/{handed['Erin']}/review",
                                form={"criterion": criterion, "points": str(most), "note": "forged"})
    assert refused.status == 403 and "CSRF" in refused.text()

    # More points than the criterion is worth: refused on the page, saying why.
    page.select_option("#criterion", criterion)
    page.fill("#points", str(most + 10))
    page.fill("#note", "too generous")
    ivy.submit("#review-form button[type=submit]", status=400)
    assert f"{criterion} is worth 0 to {most:g} points" in ivy.text("#error")
    assert server.get(f"/api/submissions/{handed['Erin']}", ivy_token).json()["score"] == done["Erin"]["score"]

    # A review: listed with who and when, and the score follows.
    given = min(most, float(math.floor(auto) + 1))  # on the form's steps of 0.5
    page.select_option("#criterion", criterion)
    page.fill("#points", f"{given:g}")
    page.fill("#note", "Read the code: <script>window.__pwned = 1</script> it does more than the tests show.")
    before = datetime.now(UTC).replace(microsecond=0)
    ivy.submit("#review-form button[type=submit]")
    assert page.url.endswith(f"/submissions/{handed['Erin']}#review")
    reviews = page.eval_on_selector_all("#reviews li", "ls => ls.map(l => l.innerText)")
    assert len(reviews) == 1, reviews
    assert reviews[0].startswith(f"{criterion}: {points(given)} point{'' if given == 1 else 's'} by Ivy at ")
    assert reviews[0].endswith("<script>window.__pwned = 1</script> it does more than the tests show.")
    assert page.evaluate("window.__pwned") is None
    at = datetime.fromisoformat(page.get_attribute("#reviews time", "datetime"))
    assert before <= at <= datetime.now(UTC) + timedelta(seconds=1)
    assert at.strftime("%Y-%m-%d %H:%M:%S UTC") in reviews[0]
    new_score = server.get(f"/api/submissions/{handed['Erin']}", ivy_token).json()["score"]
    assert new_score == pytest.approx(done["Erin"]["score"] + given - auto, abs=0.05)
    assert f"{points(new_score)} / 100" in ivy.text("#status-detail")
    assert f"reviewed by Ivy: {criterion}" in ivy.text("ol.events")
    ivy.shot("interviewer-review.png")

    # Back in the cohort, the new score; the CSV export has every submission with it.
    page.click("text=The cohort")
    page.wait_for_url(f"{server.base}/assessments/{assessment}")
    erin_row = page.locator("#cohort tbody tr", has_text="Erin").inner_text().split("\t")
    assert erin_row[4] == points(new_score)
    with page.expect_download() as download:
        page.click("#csv-link")
    assert download.value.suggested_filename == f"cohort-{assessment}.csv"
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert {r["candidate"]: (r["submission_id"], r["status"]) for r in table} == {
        "Erin": (handed["Erin"], "graded"), "Frank": (handed["Frank"], "graded")}
    assert float(next(r for r in table if r["candidate"] == "Erin")["score"]) == pytest.approx(new_score)
