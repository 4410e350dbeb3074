"""Turn how a sandbox run ended into a failure a candidate can act on from the message alone."""

from __future__ import annotations

import signal

from grader.sandbox.base import Limits, RunResult
from grader.spec.report import Failure, Phase

TAIL_LINES = 40

#: (substring of stderr, advice) pairs for crashes whose cause is common and fixable.
HINTS: list[tuple[str, str]] = [
    ("Read-only file system", "only /artifacts (training) and /tmp are writable; save the model under "
                              "$GRADER_ARTIFACTS_DIR"),
    ("ModuleNotFoundError", "the sandbox has only the runtime's packages and no network; check requirements.txt "
                            "against `grader sandbox doctor` and ship your own modules in the submission"),
    ("Network is unreachable", "the sandbox has no network: ship everything the code needs in the submission"),
    ("Temporary failure in name resolution", "the sandbox has no network: nothing can be downloaded"),
    ("Permission denied", "the code runs as an unprivileged user; write only to /artifacts and /tmp"),
    ("FileNotFoundError", "paths are /data (training data), /artifacts (your model) and /workspace (your code); "
                          "use the GRADER_DATA_DIR and GRADER_ARTIFACTS_DIR variables"),
]


def tail(text: str, lines: int = TAIL_LINES) -> str:
    kept = text.rstrip().splitlines()[-lines:]
    return "\n".join(kept)


def _what(phase: Phase) -> str:
    return {"train": "training", "predict": "prediction"}.get(phase, phase)


def classify(phase: Phase, result: RunResult, limits: Limits, timeout_s: float,
             artifacts_mb: int | None = None, crash_message: str | None = None) -> Failure | None:
    """The failure a run amounts to, or None when it succeeded.

    Causes come before symptoms: a fork bomb that then hangs is a process-limit failure, not a timeout.
    """
    what = _what(phase)
    detail = tail(result.stderr) or None
    err = result.stderr
    if result.oom_killed:
        return Failure(phase=phase, kind="oom", detail=detail, message=(
            f"{what} used more than the {limits.memory_mb} MB of memory allowed (the task's memory_mb) and was "
            "killed. Use less memory: smaller batches, float32 instead of float64, fewer features or trees."))
    if result.pids_exhausted:
        return Failure(phase=phase, kind="limit_exceeded", detail=detail, message=(
            f"{what} tried to run more than {limits.pids} processes or threads at once (the task's pids limit). "
            "Use fewer workers (n_jobs=1) and do not start processes in a loop."))
    if result.timed_out:
        return Failure(phase=phase, kind="timeout", detail=detail, message=(
            f"{what} did not finish within {timeout_s:g} s (the task's {phase}_timeout_s) and was stopped. "
            "Make it faster (fewer iterations, a smaller model, a subsample) or look for a loop that never ends."))
    if "No space left on device" in err or "Disk quota exceeded" in err:
        where = f" ({artifacts_mb} MB for /artifacts, {limits.tmp_mb} MB for /tmp)" if artifacts_mb else ""
        return Failure(phase=phase, kind="limit_exceeded", detail=detail, message=(
            f"{what} wrote more than the disk space allowed{where}. Save a smaller model, and do not keep "
            "large temporary files."))
    if "File too large" in err or result.exit_code in (-signal.SIGXFSZ, 128 + signal.SIGXFSZ):
        return Failure(phase=phase, kind="limit_exceeded", detail=detail, message=(
            f"{what} tried to write a file larger than {limits.file_size_mb} MB (the task's file_size_mb)."))
    if result.exit_code != 0:
        message = crash_message or f"{what} failed with exit code {result.exit_code}."
        hints = [advice for needle, advice in HINTS if needle in err]
        if hints:
            message += " Hint: " + hints[0] + "."
        message += (" The end of its error output is in the detail below." if detail
                    else " It printed nothing on stderr.")
        return Failure(phase=phase, kind="crash", message=message, detail=detail)
    return None
