"""Shared builders for rubric tests: a rubric from a dict, a context around a hand-made report."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.rubric.base import Context
from grader.rubric.spec import RubricSpec
from grader.spec.report import Latency, Report, Reproducibility, TaskRef
from grader.spec.task import get_task


def rubric(*sections: dict, pass_mark: float = 50) -> RubricSpec:
    return RubricSpec.model_validate({"version": 1, "id": "test", "title": "Test", "pass_mark": pass_mark,
                                      "sections": list(sections)})


def section(id: str, weight: float, *criteria: dict) -> dict:
    return {"id": id, "title": id.title(), "weight": weight, "criteria": list(criteria)}


def metric(id: str, figure: str, **settings) -> dict:
    return {"id": id, "kind": "metric", "title": id, "figure": figure, **settings}


@pytest.fixture
def report() -> Report:
    return Report(status="graded", task=TaskRef(id="tabular/credit-default", version=1),
                  metrics={"recall": 0.7, "precision": 0.55, "roc_auc": None},
                  latency=Latency(measured=True, p95_ms=120.0, cold_start_ms=900.0),
                  reproducibility=Reproducibility(runs=2, prediction_agreement=0.95))


@pytest.fixture
def ctx(report: Report, tmp_path: Path) -> Context:
    return Context(report=report, task=get_task("tabular/credit-default"), submission=tmp_path)
