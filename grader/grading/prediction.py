"""The host side of one prediction run: what goes into the sandbox, and what came out of it.

The candidate's process runs the grader's harness (``runtime/harness.py``); beside it, as another
user, the grader's timer (``runtime/timer.py``) holds the hidden-test inputs in a folder only it
can enter, and drives the harness over a unix socket in ``/tmp``. Labels never leave the host.
What the timer measured comes back as JSON lines in a folder only it can write.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import SandboxError
from grader.evaluate.failures import classify, tail
from grader.report.model import Failure
from grader.sandbox.base import Companion, Limits, Mount, RunResult, RunSpec, Sandbox
from grader.spec.task import TaskSpec

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"
RUNTIME_FILES = ("harness.py", "timer.py", "wire.py")
SOCKET = "/tmp/grader-harness.sock"
#: Memory the grader's timer needs beside the model (measured: about 70 MB with pandas): added to
#: the sandbox's limit so the candidate keeps the task's whole memory_mb.
TIMER_MEMORY_MB = 160
HARNESS_EXIT_MESSAGES = {
    3: "loading the model failed: {entry}('/artifacts') raised an exception.",
    4: "prediction failed: the model's predict(inputs) raised an exception.",
    5: "the prediction process broke its channel to the grader (the socket in /tmp) or never answered.",
}


@dataclass
class PredictionRun:
    """One prediction run's outcome. ``reply`` is the harness's answer to the full-batch request."""

    result: RunResult
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    failure: Failure | None = None

    @property
    def reply(self) -> dict[str, Any] | None:
        pred = self.events.get("predictions")
        return pred.get("reply") if pred else None


def read_events(folder: Path) -> dict[str, dict[str, Any]]:
    """The timer's JSON lines by event name (a line cut short by a killed timer is dropped)."""
    events: dict[str, dict[str, Any]] = {}
    path = folder / "events.jsonl"
    if not path.is_file():
        return events
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events[event["event"]] = event
    return events


def run_prediction(sandbox: Sandbox, task: TaskSpec, *, workspace: Path, artifacts: Path, inputs: Path,
                   entry: str, env: dict[str, str], limits: Limits, work: Path, label: str,
                   seed: int, measure_latency: bool) -> PredictionRun:
    """Predict on the hidden-test inputs with the model in ``artifacts``, in a fresh sandbox.

    ``limits`` are the task's (failure messages quote them); the sandbox gets
    :data:`TIMER_MEMORY_MB` more memory for the grader's timer.
    """
    code = work / "grader"
    code.mkdir(parents=True)
    for name in RUNTIME_FILES:
        shutil.copyfile(RUNTIME / name, code / name)
    out = work / "timer-out"
    settings = {"seed": seed, "noop_label": task.classes[0],
                "latency": task.latency.model_dump() if measure_latency and task.latency.enabled else None}
    spec = RunSpec(
        argv=["python", "/grader/harness.py", "--socket", SOCKET, "--entry", entry,
              "--workspace", "/workspace", "--artifacts", "/artifacts"],
        workdir="/workspace", label=label, env=env,
        limits=Limits(**{**limits.__dict__, "memory_mb": limits.memory_mb + TIMER_MEMORY_MB}),
        mounts=[Mount("/workspace", workspace), Mount("/artifacts", artifacts), Mount("/grader", code),
                Mount("/grader-inputs", inputs, companion_only=True),
                Mount("/grader-out", writable=True, size_mb=64, collect_to=out, companion_only=True)],
        companion=Companion(argv=["python", "/grader/timer.py", "--socket", SOCKET, "--suite", task.suite,
                                  "--inputs", "/grader-inputs", "--out", "/grader-out",
                                  "--settings", json.dumps(settings)]),
    )
    result = sandbox.run(spec)
    run = PredictionRun(result=result, events=read_events(out))
    run.failure = _failure(run, limits, entry)
    return run


def _failure(run: PredictionRun, limits: Limits, entry: str) -> Failure | None:
    result, events = run.result, run.events
    crash = HARNESS_EXIT_MESSAGES.get(result.exit_code or 0, "").format(entry=entry) or None
    failure = classify("predict", result, limits, limits.timeout_s, crash_message=crash)
    if failure is not None:
        return failure
    if "predictions" in events and (run.reply or {}).get("ok"):
        return None
    gone = events.get("gone")
    if gone is not None:  # the candidate's process went away without an error of its own (exit, os._exit)
        return Failure(phase="predict", kind="crash", detail=tail(result.stderr) or None, message=(
            f"the prediction process ended while the grader was waiting for it ({gone.get('step')} step) and "
            f"exited with code {result.exit_code}: the model must not call sys.exit() or os._exit(), "
            "close file descriptors it did not open, or end the process"))
    companion = result.companion
    raise SandboxError(
        "the grader's timer did not finish the prediction run "
        f"(exit code {companion.exit_code if companion else 'n/a'}; last step "
        f"{list(events)[-1] if events else 'none'})",
        (companion.stderr[-2000:] if companion and companion.stderr else None)
        or "see the sandbox logs; this is a grader problem, not the submission's")

