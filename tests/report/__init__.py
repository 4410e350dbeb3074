"""Tests of the report formats (report.md, junit.xml, report.json's schema, report.html).

The fixtures are real graded reports (``make_fixtures.py`` says how they are made); the helpers
below let other test modules (``tests/compare/test_compare.py``, ``test_html.py``) read them.
"""

from __future__ import annotations

import json
from pathlib import Path

from grader.spec.report import Report

FIXTURES = Path(__file__).resolve().parent / "fixtures"
GOLDEN = Path(__file__).resolve().parent / "golden"
FIXTURE_NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def fixture_path(name: str) -> Path:
    return FIXTURES / f"{name}.json"


def fixture_json(name: str) -> dict:
    """A fixture as the raw JSON a consumer reads (a fresh copy each time: tests may alter it)."""
    return json.loads(fixture_path(name).read_text(encoding="utf-8"))


def load_fixture(name: str) -> Report:
    return Report.model_validate(fixture_json(name))
