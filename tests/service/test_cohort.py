"""An assessment's cohort as interviewers see it, on a real SQLite store with real uploads: which attempt of
each candidate is shown, the code similarity of the shown attempts (named by candidate, flagged when two hand
in the same code), and the CSV export of every submission."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest
from sqlalchemy import update

from grader.service import cohort
from grader.service.config import ServiceConfig
from grader.service.db import Submission
from grader.service.store import Principal, Store, open_store
from grader.service.tokens import new_id
from tests.helpers import make_submission
from tests.service.conftest import zipped

TASK = "tabular/credit-default"
OWN_MODEL = '''
import json, os

class Forest:
    """A model of the candidate's own, long enough to fingerprint."""

    def __init__(self, threshold, label, other):
        self.threshold, self.label, self.other = threshold, label, other

    def score(self, row):
        total = 0.0
        for key, value in sorted(row.items()):
            if isinstance(value, (int, float)):
                total += value * 0.001 - len(key) * 0.0001
        return total

    def predict(self, inputs):
        return [self.label if self.score(row) > self.threshold else self.other for row in inputs]

def load(artifacts_dir):
    with open(os.path.join(artifacts_dir, "model.json")) as fh:
        saved = json.load(fh)
    return Forest(saved.get("threshold", 0.5), saved["label"], saved.get("other", "good"))
'''


class Cohort:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.config = ServiceConfig(data=tmp / "service")
        self.store: Store = open_store(self.config)
        self.assessment = self.store.create_assessment(TASK, "Cohort", deadline=None, attempts=None,
                                                       max_upload_bytes=2**20, known_tasks=[TASK])

    def candidate(self, name: str) -> Principal:
        row, _ = self.store.invite(self.assessment.id, name)
        return Principal("candidate", row.id, row.name, self.assessment.id)

    def hand_in(self, who: Principal, folder: Path, status: str) -> Submission:
        """A stored upload of ``folder``, settled as ``status`` without grading it."""
        submission_id = new_id()
        row = self.store.add_submission(submission_id, who, filename=f"{folder.name}.zip", size_bytes=1, sha256=None)
        path = self.config.upload_path(row)
        path.parent.mkdir(parents=True)
        zipped(folder, path)
        with self.store.session() as s:
            s.execute(update(Submission).where(Submission.id == submission_id)
                      .values(status=status, reason=f"{status} in this test", score=10.0 * row.number))
        return self.store.submission(submission_id)


@pytest.fixture()
def made(tmp_path: Path) -> Cohort:
    return Cohort(tmp_path)


def test_the_shown_attempt_is_the_newest_graded_else_the_newest_ended(made: Cohort, tmp_path: Path) -> None:
    ada, bob, cy = made.candidate("Ada"), made.candidate("Bob"), made.candidate("Cy")
    folder = make_submission(tmp_path / "plain")
    first = made.hand_in(ada, folder, "graded")
    made.hand_in(ada, folder, "invalid")  # newer, but a graded attempt is the one to compare
    made.hand_in(bob, folder, "error")
    newest = made.hand_in(bob, folder, "invalid")
    shown = {m.candidate.name: m.shown for m in cohort.members(made.store, made.assessment)}
    assert shown["Ada"] is not None and shown["Ada"].id == first.id
    assert shown["Bob"] is not None and shown["Bob"].id == newest.id
    assert shown["Cy"] is None and cy.name == "Cy"


def test_two_candidates_with_the_same_code_are_flagged_by_name(made: Cohort, tmp_path: Path) -> None:
    ada, bob, cy = made.candidate("Ada"), made.candidate("Bob"), made.candidate("Cy")
    own = make_submission(tmp_path / "own", model=OWN_MODEL)
    copied = tmp_path / "copied"
    shutil.copytree(own, copied)
    made.hand_in(ada, own, "graded")
    made.hand_in(bob, copied, "graded")
    made.hand_in(cy, make_submission(tmp_path / "plain"), "graded")

    found = cohort.code_similarity(made.config, cohort.members(made.store, made.assessment))
    assert found is not None and not found.unreadable
    flagged = [(p.a, p.b) for p in found.pairs if p.flagged]
    assert flagged == [("Ada (attempt 1)", "Bob (attempt 1)")], [(p.a, p.b, p.score) for p in found.pairs]
    assert len(found.pairs) == 3


def test_similarity_needs_two_ended_attempts(made: Cohort, tmp_path: Path) -> None:
    made.hand_in(made.candidate("Ada"), make_submission(tmp_path / "a"), "graded")
    made.candidate("Bob")  # invited, nothing handed in
    assert cohort.code_similarity(made.config, cohort.members(made.store, made.assessment)) is None


def test_the_csv_has_every_submission_a_row(made: Cohort, tmp_path: Path) -> None:
    ada, bob = made.candidate("Ada"), made.candidate("Bob, \"the second\"")
    folder = make_submission(tmp_path / "plain")
    made.hand_in(ada, folder, "invalid")
    made.hand_in(ada, folder, "graded")
    made.hand_in(bob, folder, "error")
    rows = list(csv.DictReader(io.StringIO(cohort.to_csv(made.store, made.config, made.assessment))))
    assert [(r["candidate"], r["attempt"], r["status"]) for r in rows] == [
        ("Ada", "1", "invalid"), ("Ada", "2", "graded"), ('Bob, "the second"', "1", "error")]
    assert rows[1]["score"] == "20.0" and rows[1]["reason"] == "graded in this test"
    assert list(rows[0])[:len(cohort.CSV_FIXED)] == list(cohort.CSV_FIXED)
