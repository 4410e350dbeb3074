"""How the pipeline lays out a grading's work in time: trainings and the other runs side by side, the
timed prediction alone, the Dockerfile build beside the runs, and a report that reads as if every run
had gone one by one. The sandbox here is a stand-in that only records when each run happened (the
real runs are in test_pipeline_docker.py); the pipeline around it is the real one.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from grader.errors import SandboxError
from grader.grading import pipeline, workers
from grader.grading.pipeline import Grader
from grader.integrations.mlflow import Tracking
from grader.runtime import wire
from grader.sandbox.base import IMAGE_BUILD, BuildResult, Limits, RunResult, RunSpec, Sandbox
from tests.helpers import make_submission

DOCKERFILE = "FROM python:3.11-slim\nCOPY model.py .\nCMD [\"python\", \"model.py\"]\n"
ROWS = 891  # the hidden test split of tabular/credit-default


class Recorder(Sandbox):
    """Records each run's and build's interval; trains write an artifact, predicts the timer's events."""

    name = "recorder"
    capabilities = frozenset({IMAGE_BUILD})

    def __init__(self, seconds: float = 0.3, fail: dict[str, int] | None = None,
                 broken: str | None = None) -> None:
        self.seconds, self.fail, self.broken = seconds, fail or {}, broken
        self.intervals: dict[str, tuple[float, float]] = {}
        self.active = 0
        self.lock = threading.Lock()

    def _span(self, label: str) -> None:
        with self.lock:
            self.active += 1
        started = time.monotonic()
        time.sleep(self.seconds)
        with self.lock:
            self.active -= 1
            self.intervals[label] = (started, time.monotonic())

    def run(self, spec: RunSpec) -> RunResult:
        self._span(spec.label)
        if spec.label == self.broken:
            raise SandboxError(f"the engine went away during {spec.label}")
        for mount in spec.mounts:
            if mount.collect_to is None:
                continue
            mount.collect_to.mkdir()
            if mount.target == "/artifacts":
                (mount.collect_to / "model.json").write_text("{}")
            else:  # the timer's output folder
                reply = {"ok": True, "predictions": ["good"] * ROWS}
                lines = [{"event": wire.LOAD, "ok": True, "cold_start_ns": 1000},
                         {"event": wire.PREDICTIONS, "ns": 1000, "n": ROWS, "reply": reply},
                         {"event": wire.READS, "submission": [], "artifacts": ["model.json"]}]
                (mount.collect_to / wire.EVENTS_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines))
        return RunResult(exit_code=self.fail.get(spec.label, 0), duration_s=self.seconds)

    def build_image(self, context_dir: Path, dockerfile: Path, limits: Limits) -> BuildResult:
        self._span("dockerfile")
        return BuildResult(ok=True, starts=True, steps=3)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.fixture(autouse=True)
def two_cores(monkeypatch):
    """Two runs of the task's one cpu fit side by side, whatever machine runs the tests."""
    monkeypatch.setattr(workers, "host_cores", lambda: 2)


def test_the_timed_prediction_runs_alone_and_the_rest_side_by_side(tmp_path):
    box = Recorder()
    sub = make_submission(tmp_path / "s", extra={"Dockerfile": DOCKERFILE})
    report = Grader(box).grade(sub, out_dir=tmp_path / "out")
    assert report.status == "graded" and report.failures == [], report.failures
    spans = box.intervals
    assert set(spans) == {"train", "train-2", "predict", "predict-2", "dockerfile"}
    assert overlap(spans["train"], spans["train-2"])  # the trainings, side by side
    assert not any(overlap(spans["predict"], spans[other]) for other in spans if other != "predict")
    assert overlap(spans["predict-2"], spans["dockerfile"])  # the build beside the other run, not the timed one
    # The report reads as if the runs had gone one by one.
    assert list(report.phases) == ["train", "predict", "train-2", "predict-2"]
    assert [r.run for r in report.reproducibility.training_runs] == [1, 2]
    built = next(c for s in report.rubric.sections for c in s.criteria if c.id == "dockerfile")
    assert built.fraction == 1.0 and "builds offline" in built.explanation


def test_without_a_timed_phase_the_build_runs_beside_the_training(tmp_path):
    box = Recorder()
    sub = make_submission(tmp_path / "s", extra={"Dockerfile": DOCKERFILE})
    report = Grader(box, task_overrides={"reproducibility": {"runs": 1}, "latency": {"enabled": False}}).grade(sub)
    assert report.status == "graded" and report.failures == [], report.failures
    assert overlap(box.intervals["train"], box.intervals["dockerfile"])


def test_a_first_training_that_fails_ends_the_runs_and_hides_the_others(tmp_path):
    box = Recorder(fail={"train": 1})
    report = Grader(box).grade(make_submission(tmp_path / "s"), out_dir=tmp_path / "out")
    assert box.active == 0  # the training beside it was waited for, not left running
    assert "train-2" in box.intervals and "predict-2" not in box.intervals
    assert list(report.phases) == ["train"] and len(report.failures) == 1
    assert report.failures[0].phase == "train" and report.failures[0].kind == "crash"
    assert not (tmp_path / "out" / "logs" / "train-2.stdout.log").exists()


def test_a_failing_repeated_run_is_reported_as_that_run(tmp_path):
    report = Grader(Recorder(fail={"train-2": 1})).grade(make_submission(tmp_path / "s"))
    assert list(report.phases) == ["train", "predict", "train-2"]
    assert [f.message.split(":")[0] for f in report.failures] == ["training run 2 of 2 (seed 20261122, same seed)"]


def test_a_sandbox_failure_beside_the_first_run_is_a_grader_error_and_nothing_is_left_running(tmp_path):
    box = Recorder(broken="train-2")
    report = Grader(box).grade(make_submission(tmp_path / "s"), out_dir=tmp_path / "out")
    assert (report.status, report.exit_code) == ("error", 4)
    assert "the engine went away during train-2" in report.failures[-1].message
    assert box.active == 0


def test_one_core_runs_everything_one_after_the_other(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "host_cores", lambda: 1)
    box = Recorder()
    report = Grader(box).grade(make_submission(tmp_path / "s"))
    assert report.failures == []
    order = sorted(box.intervals, key=lambda label: box.intervals[label][0])
    assert order == ["train", "predict", "train-2", "predict-2"]
    spans = list(box.intervals.values())
    assert not any(overlap(a, b) for i, a in enumerate(spans) for b in spans[i + 1:])


def test_the_mlflow_store_opens_beside_the_runs_and_the_reports_are_written_once(tmp_path, monkeypatch):
    box, opened, writes = Recorder(), [], []
    real_open, real_write = pipeline.open_store, pipeline.write_reports

    def open_store(tracking):
        started = time.monotonic()
        try:
            return real_open(tracking)
        finally:
            opened.append((started, time.monotonic()))

    monkeypatch.setattr(pipeline, "open_store", open_store)
    monkeypatch.setattr(pipeline, "write_reports", lambda report, out: writes.append(out) or real_write(report, out))
    tracking = Tracking(f"sqlite:///{tmp_path}/mlflow.db")
    report = Grader(box, tracking=tracking).grade(make_submission(tmp_path / "s"), out_dir=tmp_path / "out")
    assert report.status == "graded" and report.warnings == [], report.warnings
    assert len(opened) == 1 and not overlap(opened[0], box.intervals["predict"])
    assert writes == [tmp_path / "out"]  # once, and with the run id in it
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["environment"]["mlflow"]["run_id"] == report.environment.mlflow.run_id


def _side_by_side(tmp_path: Path, lock: workers.MachineLock | bool) -> tuple[dict, dict]:
    """Two gradings at once, as two `grader batch` workers run them: each its own Grader and sandbox."""
    boxes = [Recorder(seconds=0.2), Recorder(seconds=0.2)]
    subs = [make_submission(tmp_path / f"s{i}") for i in range(2)]
    Grader(Recorder(seconds=0.0)).grade(subs[0])  # warm (imports, caches): both then reach their predict together
    threads = [threading.Thread(target=Grader(box, latency_lock=lock).grade, args=(sub,))
               for box, sub in zip(boxes, subs, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(set(box.intervals) == {"train", "train-2", "predict", "predict-2"} for box in boxes)
    return boxes[0].intervals, boxes[1].intervals


def test_by_default_gradings_side_by_side_never_time_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))  # the default lock, in a cache of its own
    a, b = _side_by_side(tmp_path, True)
    assert not overlap(a["predict"], b["predict"])
    assert (tmp_path / "cache" / workers.LATENCY_LOCK).is_file()


def test_a_quiet_machine_runs_no_other_sandbox_run_beside_a_timed_one(tmp_path):
    a, b = _side_by_side(tmp_path, workers.MachineLock(tmp_path / "lock", quiet=True))
    for timed, other in ((a["predict"], b), (b["predict"], a)):
        assert not any(overlap(timed, span) for span in other.values()), (a, b)


def test_a_quiet_lock_is_shared_by_the_untimed_runs_and_waits_for_them(tmp_path):
    lock = workers.MachineLock(tmp_path, quiet=True)
    holding, release, timed = threading.Event(), threading.Event(), threading.Event()

    def untimed() -> None:
        with lock.shared():
            holding.set()
            release.wait(30)

    def measure() -> None:
        with lock.timed():
            timed.set()

    threading.Thread(target=untimed, daemon=True).start()
    assert holding.wait(10)
    with lock.shared():  # shared with the other untimed run
        pass
    waiter = threading.Thread(target=measure, daemon=True)
    waiter.start()
    assert not timed.wait(0.3)  # the timed phase waits for the untimed run to end
    release.set()
    waiter.join(10)
    assert timed.is_set()
    with workers.MachineLock(tmp_path).timed(), workers.MachineLock(tmp_path / "other").shared():
        pass  # not quiet: untimed runs never wait
