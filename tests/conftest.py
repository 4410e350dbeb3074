"""Top-level fixtures and the Docker guard.

Tests marked ``docker`` need a reachable Docker engine (``redis``: a redis-server, ``postgres``: PostgreSQL's
server binaries). Without one they are skipped with the reason, except when ``CI=true``: then they FAIL, so
CI can never pass by silently skipping them.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import docker_leftovers, postgres_bin_dir, redis_server_binary

# Every grading logs to MLflow by default: keep this session's runs (the CLI's subprocesses
# included) in a throwaway store, never in the repository or a developer's tracking server.
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tempfile.mkdtemp(prefix='grader-tests-mlflow-')}/mlflow.db"
# What the grader keeps per user (the default MLflow store when no URI is set) goes to a throwaway folder too.
os.environ["GRADER_DATA_DIR"] = tempfile.mkdtemp(prefix="grader-tests-data-")


@functools.cache
def docker_unreachable() -> str | None:
    """Why no Docker engine answers here, or None when one does (asked once per session)."""
    try:
        import docker

        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"no reachable Docker engine ({type(exc).__name__}: {exc})"
    return None


def redis_missing() -> str | None:
    """Why no redis-server can be started here, or None when one can."""
    if redis_server_binary() is None:
        return "no redis-server (apt-get install redis-server, or set GRADER_REDIS_SERVER)"
    return None


def postgres_missing() -> str | None:
    """Why no throwaway PostgreSQL cluster can be started here, or None when one can."""
    if postgres_bin_dir() is None:
        return ("no PostgreSQL server binaries (initdb): run scripts/test-tools.sh (apt-get install postgresql), "
                "or set GRADER_POSTGRES_BIN to the folder holding initdb and pg_ctl")
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, unavailable in (("docker", docker_unreachable), ("redis", redis_missing),
                                ("postgres", postgres_missing)):
        if item.get_closest_marker(marker) is None:
            continue
        reason = unavailable()
        if reason is None:
            continue
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so {marker} tests must run, not be skipped", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def docker_box():
    """One docker sandbox for the tests that grade or build with it (each run is fresh anyway)."""
    from grader.sandbox import get_backend

    sandbox = get_backend("docker")
    yield sandbox
    sandbox.close()


@pytest.fixture()
def nothing_left(docker_box):
    """After the test, the shared docker sandbox has removed everything its runs created."""
    yield
    assert docker_leftovers(docker_box.session) == []


# -- a real browser ------------------------------------------------------------------------------

#: How the browser tests start Debian's chromium: headless as root, and quiet on a machine with no network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """A headless chromium, or a skip (a failure when CI=true) saying why there is none."""
    executable = os.environ.get("GRADER_CHROMIUM", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright

        manager = sync_playwright()
        playwright = manager.start()
    except Exception as exc:  # noqa: BLE001 - any failure means "no browser here"
        reason = f"playwright is not usable ({type(exc).__name__}: {exc})"
        playwright = None
    else:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            reason = ""
        except Exception as exc:  # noqa: BLE001
            reason = f"chromium at {executable} does not start ({type(exc).__name__}: {str(exc)[:300]})"
            playwright.stop()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true, so browser tests must run, not be skipped", pytrace=False)
        pytest.skip(reason)
    yield browser
    browser.close()
    assert playwright is not None
    playwright.stop()
