"""Fixtures of the report-format tests: every real report, and golden-file comparison.

Golden files live in ``tests/report/golden/<fixture>.<format>``. When a renderer changes on
purpose, rewrite them with ``GRADER_UPDATE_GOLDEN=1 python -m pytest tests/report`` and read the
diff before committing it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from grader.spec.report import Report
from tests.report import FIXTURE_NAMES, GOLDEN, load_fixture


@pytest.fixture(params=FIXTURE_NAMES)
def named_report(request: pytest.FixtureRequest) -> tuple[str, Report]:
    """Each fixture in turn, as (name, report)."""
    return request.param, load_fixture(request.param)


@pytest.fixture()
def golden() -> Callable[[str, str], None]:
    """``golden(filename, text)``: assert ``text`` equals ``golden/filename`` (or rewrite it when asked)."""

    def check(filename: str, text: str) -> None:
        path: Path = GOLDEN / filename
        if os.environ.get("GRADER_UPDATE_GOLDEN") == "1":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.is_file(), f"no golden file {path}; write it with GRADER_UPDATE_GOLDEN=1"
        expected = path.read_text(encoding="utf-8")
        assert text == expected, f"{filename} differs from its golden file; if on purpose, GRADER_UPDATE_GOLDEN=1"

    return check
