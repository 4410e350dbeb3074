"""cohort.json's model and the batch's exit code rule."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from grader.spec.cohort import Cohort, CohortEntry, exit_code


def entry(name: str, outcome: str, **kw) -> CohortEntry:
    status = {"passed": "graded", "not_passed": "graded"}.get(outcome, outcome)
    return CohortEntry(name=name, path=f"subs/{name}", status=status, outcome=outcome, passed=outcome == "passed",
                       score=80.0 if outcome == "passed" else 10.0, report=f"{name}/report.json", **kw)


@pytest.mark.parametrize(("outcomes", "code"), [
    (["passed", "passed"], 0),
    (["passed", "not_passed"], 1),
    (["passed", "invalid"], 1),
    (["not_passed", "invalid"], 1),
    (["passed", "error"], 4),
    (["invalid", "not_passed", "error"], 4),
])
def test_exit_code_rule(outcomes, code):
    assert exit_code(outcomes) == code
    cohort = Cohort(batch_id="b", grader_version="0", started_at="now", workers=2,
                    submissions=[entry(f"s{i}", o) for i, o in enumerate(outcomes)])
    assert cohort.exit_code == code


def test_cohort_round_trips_and_refuses_unknown_fields():
    cohort = Cohort(batch_id="b1", grader_version="0.1.0", started_at="2026-12-02T04:00:00+00:00", workers=2,
                    submissions=[entry("alice", "passed", resumed=True), entry("bob", "error")])
    data = json.loads(cohort.model_dump_json())
    assert [s["name"] for s in data["submissions"]] == ["alice", "bob"]
    assert set(data["submissions"][0]) >= {"name", "path", "status", "passed", "score", "report"}
    assert Cohort.model_validate(data) == cohort
    data["submissions"][0]["grade"] = "A"
    with pytest.raises(ValidationError):
        Cohort.model_validate(data)
    with pytest.raises(ValidationError):  # a status the reports never have
        entry("carol", "lost")
