"""Fixtures of the compare tests: the headless chromium of the report tests, shared (one browser per module)."""

from tests.report.test_html import chromium  # noqa: F401 - a fixture, found by name
