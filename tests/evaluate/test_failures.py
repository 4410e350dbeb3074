import signal

import pytest

from grader.evaluate.failures import classify
from grader.sandbox.base import Limits, RunResult

LIMITS = Limits(memory_mb=512, pids=64, file_size_mb=8)


def run(**kw) -> RunResult:
    return RunResult(**{"exit_code": 0, "duration_s": 1.0, **kw})


@pytest.mark.parametrize("result, kind, words", [
    (run(exit_code=None, timed_out=True), "timeout", "did not finish within 30 s"),
    (run(exit_code=137, oom_killed=True), "oom", "more than the 512 MB"),
    (run(exit_code=1, pids_exhausted=True), "limit_exceeded", "more than 64 processes"),
    (run(exit_code=1, stderr="OSError: [Errno 28] No space left on device"), "limit_exceeded", "disk space"),
    (run(exit_code=-signal.SIGXFSZ), "limit_exceeded", "larger than 8 MB"),
    (run(exit_code=1, stderr="Traceback\nOSError: [Errno 30] Read-only file system: '/workspace/m.pkl'"),
     "crash", "only /artifacts"),
    (run(exit_code=2, stderr=""), "crash", "printed nothing"),
])
def test_each_ending_becomes_the_right_failure(result, kind, words):
    failure = classify("train", result, LIMITS, 30)
    assert failure is not None and failure.kind == kind and words in failure.message, failure


def test_success_is_no_failure():
    assert classify("train", run(), LIMITS, 30) is None


def test_crash_detail_is_the_tail_of_stderr():
    stderr = "\n".join(f"line {i}" for i in range(100))
    failure = classify("predict", run(exit_code=1, stderr=stderr), LIMITS, 30)
    assert failure.detail.splitlines()[-1] == "line 99" and "line 10\n" not in failure.detail


def test_cause_comes_before_symptom():
    failure = classify("train", run(exit_code=None, timed_out=True, pids_exhausted=True), LIMITS, 30)
    assert failure.kind == "limit_exceeded"
