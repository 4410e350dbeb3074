"""``grader task validate`` checks task.yaml's expected figures against what the reference was just graded at
(the real grading of examples/reference, kept as the report fixture)."""

from __future__ import annotations

from grader.authoring.validate import expectations
from grader.spec.task import get_task, with_overrides
from tests.report import load_fixture

CREDIT = "tabular/credit-default"


def test_the_bundled_reference_matches_its_expected_figures():
    finding = expectations(get_task(CREDIT), load_fixture("reference").metrics)
    assert finding.ok, finding.message


def test_a_changed_reference_is_told_with_the_line_to_paste():
    measured = {**load_fixture("reference").metrics, "f1": 0.7012}
    finding = expectations(get_task(CREDIT), measured)
    assert not finding.ok
    assert "f1 0.701 (task.yaml 0.653)" in finding.message and "f1: 0.701" in finding.message


def test_a_task_without_expected_figures_is_told_to_add_them():
    finding = expectations(with_overrides(get_task(CREDIT), {"expected": None}), {"f1": 0.65})
    assert not finding.ok and "`expected`" in finding.message and "reference: {f1: 0.650}" in finding.message
