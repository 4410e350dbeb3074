"""Totals, the pass mark, gates, required criteria, and a criterion that breaks."""

from __future__ import annotations

from grader.rubric.base import CriterionKind, CriterionSpec, Outcome, kinds
from grader.rubric.engine import grade, requirements, settle_report
from tests.rubric.conftest import metric, rubric, section


def test_points_split_by_section_weight_and_criterion_weight(ctx):
    result = grade(rubric(section("quality", 60, metric("recall", "recall", zero=0.5, full=0.9, weight=3),
                                  metric("precision", "precision", threshold=0.5, weight=1)),
                          section("speed", 40, metric("p95", "latency.p95_ms", threshold=100))), ctx)
    recall, precision = result.sections[0].criteria
    assert (recall.max_points, recall.points) == (45.0, 22.5) and (precision.max_points, precision.points) == (15, 15)
    assert result.sections[0].points == 37.5 and result.sections[1].points == 0.0
    assert result.total == result.automatic_total == 37.5 and not result.passed
    assert result.not_passed_because == ["the total, 37.5, is below the pass mark of 50"]


def test_gates_and_required_criteria_block_a_high_total(ctx):
    result = grade(rubric(section("s", 100, metric("recall", "recall", threshold=0.5, gate=0.8, weight=9),
                                  {"id": "clean", "kind": "check", "title": "Clean", "check": "tests_present",
                                   "required": True})), ctx)
    assert result.total == 90.0 and not result.passed
    assert result.not_passed_because == ["recall: recall >= 0.8 is required to pass; it is 0.7",
                                         "clean is required and earned 0 of 10 points"]
    rules = [(r.rule, r.met) for r in requirements(result)]
    assert rules == [("rubric total >= 50", True), ("recall >= 0.8", False), ("clean: full points (10)", False)]


def test_report_score_and_passed_come_from_the_rubric(ctx, report):
    report.rubric = grade(rubric(section("s", 100, metric("recall", "recall", threshold=0.5))), ctx)
    settle_report(report)
    assert report.score == 100.0 and report.passed and report.pass_rule[0].met


def test_a_failing_criterion_kind_costs_its_points_not_the_report(ctx):
    class Broken(CriterionKind):
        name = "broken"
        spec = type("BrokenSpec", (CriterionSpec,), {"__annotations__": {}})

        def grade(self, spec, ctx) -> Outcome:
            raise RuntimeError("boom")

    kinds.register("broken-test")(Broken)
    try:
        spec = rubric(section("s", 100, metric("recall", "recall", threshold=0.5)))
        object.__setattr__(spec.sections[0].criteria[0], "kind", "broken-test")
        c = grade(spec, ctx).sections[0].criteria[0]
        assert c.points == 0 and c.fraction is None and c.needs_review and "RuntimeError: boom" in c.explanation
    finally:
        kinds._items.pop("broken-test")
