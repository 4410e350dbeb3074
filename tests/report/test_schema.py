"""report.json against its published JSON Schema (``grader/schemas/report.schema.json``), with an independent
validator (jsonschema, Draft 2020-12): every real report validates, a fresh one does, broken ones do
not, and a real grading writes a valid report.json with report.md and junit.xml beside it."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from grader.cli.schema import SCHEMAS, schema_for
from grader.grading.pipeline import Grader
from grader.report import junit, markdown
from grader.spec.report import Failure, Report, TaskRef
from tests.helpers import QUICK_LATENCY, make_submission, tasks_copy
from tests.report import FIXTURE_NAMES, fixture_json, load_fixture

SCHEMA_FILE = SCHEMAS / "report.schema.json"


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def errors(validator: Draft202012Validator, data: dict) -> list[str]:
    """Every error with its path, those inside an anyOf (a nullable object) included."""
    found, todo = [], list(validator.iter_errors(data))
    while todo:
        error = todo.pop()
        found.append(f"{'.'.join(map(str, error.absolute_path))}: {error.message}")
        todo += error.context or []
    return found


def test_published_schema_is_the_models():
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == schema_for("report"), "run `python -m grader.cli.schema` to refresh the shipped schemas"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_every_real_report_validates(validator, name):
    assert errors(validator, fixture_json(name)) == []


def test_fixtures_cover_every_kind_of_report():
    reports = {name: load_fixture(name) for name in FIXTURE_NAMES}
    kinds = {
        "passed": any(r.status == "graded" and r.passed and r.evaluated_on == "test" for r in reports.values()),
        "not passed": any(r.status == "graded" and not r.passed and not r.failures for r in reports.values()),
        "crash": any(f.phase == "train" and f.kind == "crash" for r in reports.values() for f in r.failures),
        "invalid": any(r.status == "invalid" for r in reports.values()),
        "error": any(r.status == "error" for r in reports.values()),
        "multiclass": any(len(r.per_class) > 2 for r in reports.values()),
        "reviewed": any(r.rubric and any(c.review for s in r.rubric.sections for c in s.criteria)
                        for r in reports.values()),
        "self-check": any(r.evaluated_on == "valid" for r in reports.values()),
    }
    assert all(kinds.values()), f"missing: {[k for k, ok in kinds.items() if not ok]}; see make_fixtures.py"


def test_a_fresh_report_validates(validator):
    report = Report(status="graded", task=TaskRef(id="tabular/credit-default", version=1), score=12.5,
                    metrics={"recall": 0.5, "precision": None},
                    failures=[Failure(phase="predict", kind="invalid_output", message="3 labels for 4 rows")])
    assert errors(validator, json.loads(report.model_dump_json())) == []


@pytest.mark.parametrize("path, value, where, expected", [
    (["score"], "high", "score", "is not of type 'number'"),
    (["score"], 101, "score", "greater than the maximum"),
    (["status"], "done", "status", "is not one of"),
    (["surprise"], 1, "", "Additional properties are not allowed ('surprise' was unexpected)"),
    (["failures", 0, "severity"], "high", "failures.0", "('severity' was unexpected)"),
    (["rubric", "sections", 0, "criteria", 0, "points"], "seven", "rubric.sections.0.criteria.0.points",
     "is not of type 'number'"),
    (["latency", "p95_ms"], [1.0], "latency.p95_ms", "is not of type 'number'"),
])
def test_a_broken_report_is_rejected(validator, path, value, where, expected):
    data = fixture_json("crash")
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    found = errors(validator, data)
    assert any(e.startswith(f"{where}: ") and expected in e for e in found), found


def test_a_report_without_its_required_fields_is_rejected(validator):
    data = fixture_json("reference")
    del data["task"]
    assert any("'task' is a required property" in e for e in errors(validator, data))


@pytest.mark.docker
@pytest.mark.usefixtures("nothing_left")
def test_a_real_grading_writes_valid_reports(docker_box, validator, tmp_path):
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, train_timeout_s=60, predict_timeout_s=90)
    out = tmp_path / "out"
    Grader(docker_box, tasks_root=tasks).grade(make_submission(tmp_path / "sub"), out_dir=out)
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert errors(validator, data) == []
    report = Report.model_validate(data)
    assert report.status == "graded" and report.rubric is not None
    assert not [w for w in report.warnings if "could not be written" in w and "html" not in w]
    assert (out / "report.md").read_text(encoding="utf-8") == markdown.render(report)
    assert (out / "junit.xml").read_text(encoding="utf-8") == junit.render(report)
