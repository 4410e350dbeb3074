"""junit.xml: one test case per rubric criterion, failed (with the reason) when it earned less than its
full points; the report's failures instead when there is no rubric result; shaped like pytest's own.

Golden files: ``tests/report/golden/<fixture>.junit.xml``. After an intended change of the renderer,
rewrite them with ``GRADER_UPDATE_GOLDEN=1 python -m pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from grader.report.junit import render
from grader.spec.report import Report
from tests.report import FIXTURE_NAMES, fixture_json, load_fixture

WITH_RUBRIC = [name for name in FIXTURE_NAMES if fixture_json(name).get("rubric")]


def parse(report: Report) -> ET.Element:
    return ET.fromstring(render(report).encode("utf-8"))


def suite_of(report: Report) -> ET.Element:
    root = parse(report)
    assert root.tag == "testsuites" and len(root.findall("testsuite")) == 1
    return root.find("testsuite")


@pytest.fixture(scope="module")
def pytest_junit(tmp_path_factory) -> ET.Element:
    """The JUnit XML pytest itself writes for one passing and one failing test."""
    folder = tmp_path_factory.mktemp("pytest-junit")
    (folder / "test_shape.py").write_text("def test_ok():\n    pass\n\ndef test_bad():\n    assert 1 == 2\n")
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml=out.xml",
                    "test_shape.py"], cwd=folder, capture_output=True, timeout=120)
    return ET.parse(folder / "out.xml").getroot()


def test_golden(named_report, golden):
    name, report = named_report
    text = render(report)
    assert text == render(report)
    golden(f"{name}.junit.xml", text)


@pytest.mark.parametrize("name", WITH_RUBRIC)
def test_one_case_per_criterion_failed_when_points_are_missing(name):
    report = load_fixture(name)
    suite = suite_of(report)
    criteria = [(s.id, c) for s in report.rubric.sections for c in s.criteria]
    cases = suite.findall("testcase")
    assert [(case.get("classname"), case.get("name")) for case in cases] == [(sid, c.id) for sid, c in criteria]
    short = [c for _, c in criteria if round(c.points, 4) < round(c.max_points, 4)]
    assert suite.get("tests") == str(len(criteria)) and suite.get("failures") == str(len(short))
    assert suite.get("errors") == "0"
    for case, (_, c) in zip(cases, criteria, strict=True):
        failure = case.find("failure")
        if c in short:
            assert failure is not None and c.explanation in failure.get("message").replace("  ", " ")
            assert c.explanation in failure.text and all(e in failure.text for e in c.evidence)
        else:
            assert failure is None and len(case) == 0


def test_baseline_fails_the_criteria_it_missed():
    suite = suite_of(load_fixture("baseline"))
    recall = suite.find("testcase[@name='recall']/failure")
    assert recall is not None
    assert recall.get("message").startswith("0 of 14 points: recall of the positive class 'bad' is 0")
    assert "recall >= 0.6 (not met)" in recall.text
    assert suite.find("testcase[@name='same-seed-agreement']/failure") is None


def test_properties_give_the_verdict():
    for name in ("reference", "baseline", "reviewed"):
        report = load_fixture(name)
        props = {p.get("name"): p.get("value") for p in suite_of(report).find("properties")}
        assert props["status"] == "graded" and props["passed"] == str(report.passed).lower()
        assert float(props["score"]) == pytest.approx(report.score, abs=1e-4)
        assert float(props["pass_mark"]) == report.rubric.pass_mark
        assert float(props["automatic_score"]) == pytest.approx(report.rubric.automatic_total, abs=1e-4)
        assert props.get("candidate") == report.submission.candidate


def test_reviewed_criterion_names_its_reviewer():
    report = load_fixture("reviewed")
    lowered = next(c for s in report.rubric.sections for c in s.criteria if c.review and c.points < c.max_points)
    failure = suite_of(report).find(f"testcase[@name='{lowered.id}']/failure")
    assert failure is not None and f"reviewed by {lowered.review.reviewer}" in failure.text
    assert lowered.review.note in failure.text  # its newline, pipe and angle brackets survive as text


@pytest.mark.parametrize("name, tag", [("invalid", "failure"), ("error", "error")])
def test_failures_become_cases_without_a_rubric(name, tag):
    report = load_fixture(name)
    assert report.rubric is None and report.failures
    suite = suite_of(report)
    cases = suite.findall("testcase")
    assert len(cases) == len(report.failures) == int(suite.get("tests"))
    assert int(suite.get("failures" if tag == "failure" else "errors")) == len(cases)
    for case, failure in zip(cases, report.failures, strict=True):
        assert case.get("classname") == failure.phase and case.get("name").startswith(failure.kind)
        assert case.find(tag).get("message") == " ".join(failure.message.split())
    assert len({case.get("name") for case in cases}) == len(cases)  # repeated kinds are numbered


def test_crash_keeps_its_stderr_in_system_err():
    report = load_fixture("crash")
    err = suite_of(report).find("system-err")
    assert err is not None and report.failures[0].detail.strip() in err.text


def test_control_characters_from_stderr_still_make_valid_xml():
    raw = fixture_json("crash")
    raw["failures"][0]["detail"] = "\x1b[31mred\x1b[0m \x00 nul \ud800 surrogate"
    raw["rubric"]["sections"][0]["criteria"][0]["explanation"] = "bell \x07 in the explanation"
    suite = suite_of(Report.model_validate(raw))
    assert "\\x1b[31mred" in suite.find("system-err").text
    assert "bell \\x07" in suite.find("testcase/failure").get("message")


def test_same_shape_as_pytest_junitxml(pytest_junit):
    ours = parse(load_fixture("baseline"))
    assert ours.tag == pytest_junit.tag
    theirs_suite, our_suite = pytest_junit.find("testsuite"), ours.find("testsuite")
    assert set(theirs_suite.attrib) - {"hostname"} <= set(our_suite.attrib)
    theirs_case = theirs_suite.find("testcase[failure]")
    our_case = our_suite.find("testcase[failure]")
    assert set(our_case.attrib) == set(theirs_case.attrib) == {"classname", "name", "time"}
    assert set(theirs_case.find("failure").attrib) <= set(our_case.find("failure").attrib)
    assert int(our_suite.get("tests")) == len(our_suite.findall("testcase"))
    float(our_suite.get("time"))  # a number, as consumers expect
