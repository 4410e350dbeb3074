"""The host side of one prediction run: what goes into the sandbox, and what came out of it.

The candidate's process runs the grader's harness (``runtime/harness.py``); beside it, as another
user, the grader's timer (``runtime/timer.py``) holds the hidden-test inputs in a folder only it
can enter, and drives the harness over a unix socket in ``/tmp``. Labels never leave the host.
What the timer measured comes back as JSON lines in a folder only it can write, read here into
:class:`~grader.runtime.wire.TimerEvents`.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.data.splits import INPUT_FILES, PROBE_FILE
from grader.errors import SandboxError
from grader.evaluate.failures import classify, tail
from grader.runtime import wire
from grader.runtime.wire import TimerEvents
from grader.sandbox.base import Companion, Limits, Mount, RunResult, RunSpec, Sandbox
from grader.spec.report import Failure
from grader.spec.task import TaskSpec

RUNTIME = Path(__file__).resolve().parents[1] / "runtime"
#: What the sandbox gets in /grader: the harness, the timer, and the modules both import.
RUNTIME_FILES = ("harness.py", "timer.py", "wire.py", "codec.py")
SOCKET = "/tmp/grader-harness.sock"
#: Memory the grader's timer needs beside the model (measured: about 70 MB with pandas): added to
#: the sandbox's limit so the candidate keeps the task's whole memory_mb.
TIMER_MEMORY_MB = 160
HARNESS_EXIT_MESSAGES = {
    wire.EXIT_LOAD_FAILED: "loading the model failed: {entry}('/artifacts') raised an exception.",
    wire.EXIT_PREDICT_FAILED: "prediction failed: the model's predict(inputs) raised an exception.",
    wire.EXIT_PROTOCOL: ("the prediction process broke its channel to the grader (the socket in /tmp) or never "
                         "answered."),
}


@dataclass
class PredictionRun:
    """One prediction run's outcome: what the sandbox reported, and what the timer recorded."""

    result: RunResult
    events: TimerEvents = field(default_factory=TimerEvents)
    failure: Failure | None = None

    @property
    def reply(self) -> dict[str, Any] | None:
        """The harness's answer to the full-batch request (predictions, probabilities)."""
        return self.events.predictions.reply if self.events.predictions else None

    @property
    def probe_reply(self) -> dict[str, Any] | None:
        """The harness's answer to the untimed probe call (``grader/data/twins.py``), if there was one."""
        return self.events.probe.reply if self.events.probe else None


def read_events(folder: Path) -> dict[str, dict[str, Any]]:
    """The timer's JSON lines by event name, as written (:class:`TimerEvents` types them)."""
    path = folder / wire.EVENTS_FILE
    return wire.read_lines(path.read_text(encoding="utf-8").splitlines()) if path.is_file() else {}


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
    probe_args = ["--probe", f"/grader-inputs/{PROBE_FILE}"] if (inputs / PROBE_FILE).is_file() else []
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
                                  "--inputs", f"/grader-inputs/{INPUT_FILES[task.suite]}", *probe_args,
                                  "--out", "/grader-out",
                                  "--settings", json.dumps(settings)]),
    )
    result = sandbox.run(spec)
    run = PredictionRun(result=result, events=TimerEvents.parse(read_events(out)))
    run.failure = _failure(run, limits, entry)
    return run


def _failure(run: PredictionRun, limits: Limits, entry: str) -> Failure | None:
    result, events = run.result, run.events
    if result.exit_code == wire.EXIT_PREDICT_FAILED and (run.reply or {}).get("ok") and run.probe_reply is not None \
            and not run.probe_reply.get("ok"):
        # Only the probe call raised, after the scored batch had its answer: an integrity finding, not a crash.
        result = dataclasses.replace(result, exit_code=0)
    crash = HARNESS_EXIT_MESSAGES.get(result.exit_code or 0, "").format(entry=entry) or None
    failure = classify("predict", result, limits, limits.timeout_s, crash_message=crash)
    if failure is not None:
        return failure
    if events.predictions is not None and (run.reply or {}).get("ok"):
        return None
    gone = events.gone
    if gone is not None:  # the candidate's process went away without an error of its own (exit, os._exit)
        return Failure(phase="predict", kind="crash", detail=tail(result.stderr) or None, message=(
            f"the prediction process ended while the grader was waiting for it ({gone.step} step) and "
            f"exited with code {result.exit_code}: the model must not call sys.exit() or os._exit(), "
            "close file descriptors it did not open, or end the process"))
    companion = result.companion
    raise SandboxError(
        "the grader's timer did not finish the prediction run "
        f"(exit code {companion.exit_code if companion else 'n/a'}; last step "
        f"{events.steps[-1] if events.steps else 'none'})",
        (companion.stderr[-2000:] if companion and companion.stderr else None)
        or "see the sandbox logs; this is a grader problem, not the submission's")

