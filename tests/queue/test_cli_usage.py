"""The queue commands' mistakes, said before anything is enqueued: usage errors exit 2, a Redis that does
not answer exits 4, each with what to do."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import make_submission
from tests.queue.conftest import free_port


def grader(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture()
def submission(tmp_path):
    return str(make_submission(tmp_path / "alice"))


def test_no_wait_needs_a_queue(tmp_path, submission):
    done = grader("batch", submission, "--out", str(tmp_path / "out"), "--no-wait")
    assert done.returncode == 2 and "--no-wait needs --queue" in done.stderr


@pytest.mark.parametrize("extra", [["--workers", "2"], ["--no-mlflow"], ["--mlflow-uri", "sqlite:///x.db"]])
def test_options_of_the_workers_are_refused_with_a_queue(tmp_path, submission, extra):
    done = grader("batch", submission, "--out", str(tmp_path / "out"), "--queue", "redis://127.0.0.1:1/0", *extra)
    assert done.returncode == 2 and "belong to `grader worker`" in done.stderr


@pytest.mark.parametrize("command", [["worker"], ["queue", "status"]])
def test_a_url_that_is_not_redis_is_refused(command):
    done = grader(*command, "--queue", "localhost:6379")
    assert done.returncode == 2, done.stderr
    assert "is not a Redis URL" in done.stderr and "redis://HOST:PORT/DB" in done.stderr


def test_a_queue_that_does_not_answer_exits_4_and_enqueues_nothing(tmp_path, submission):
    done = grader("batch", submission, "--out", str(tmp_path / "out"), "--queue", f"redis://127.0.0.1:{free_port()}/0")
    assert done.returncode == 4, done.stderr
    assert "does not answer" in done.stderr and "redis-server --appendonly yes" in done.stderr
    assert not (tmp_path / "out" / "alice").exists()
