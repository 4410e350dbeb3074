"""How much the grader costs on top of the candidate's own work, for the reference submission.

(a) One training, no latency loop, graded in this process (imports done, one sandbox reused),
    against the same train + predict run directly with this host's Python: their ratio.
(b) The full default grading as a user runs it: ``grader grade`` of the reference in a child
    process, MLflow logging on (into an existing SQLite store), against the sum of its candidate
    phases (each sandbox command's own start-to-finish time).

For both it prints where the wall time goes: python start-up and grader imports, staging and the
other host-side steps, each sandbox run (its wall time, and the candidate's phase within it: the
rest is containers, keeper and archive transfers), the Dockerfile build, report rendering and
MLflow (import and logging); the spans come from :mod:`benchmarks._timeline`. Spans of work run
side by side overlap, so the rows can add up to more than the wall time.
Run: `python -m benchmarks.grading_overhead [--repeat N] [--sandbox docker|local] [--only a|b]`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks import _direct, _timeline
from grader.grading.pipeline import Grader
from grader.sandbox import get_backend
from grader.spec.task import get_task

TASK = "tabular/credit-default"
ROOT = Path(__file__).resolve().parent.parent
#: What the overhead comparison grades: one training, predictions without the latency loop.
PLAIN = {"reproducibility": {"runs": 1}, "latency": {"enabled": False}}
#: The child process of (b): the CLI, with the timeline recorded to argv[1].
CHILD = """
import time
started = time.perf_counter()
import sys
from benchmarks import _timeline
_timeline.record_to(sys.argv[1], started, preload=("grader.cli",))
from grader.cli import run
sys.argv = ["grader", *sys.argv[2:]]
run()
"""


def direct(task, submission: Path) -> float:
    """Train, then predict (labels and probabilities) on the hidden-test features, with plain Python."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        artifacts = _direct.train(task, submission, Path(tmp))
        features = pd.read_csv(task.data_path("test")).drop(columns=[task.label_column])
        features.to_csv(Path(tmp, "x.csv"), index=False)
        predict = ("import sys, pandas as pd; sys.path.insert(0, '.'); import model; "
                   f"m = model.load({str(artifacts)!r}); x = pd.read_csv({str(Path(tmp, 'x.csv'))!r}); "
                   "m.predict(x); m.predict_proba(x)")
        subprocess.run([sys.executable, "-c", predict], cwd=submission, check=True)
        return time.perf_counter() - started


def one_training(task, submission: Path, box, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as out:  # untimed: the imports and first-use caches, as promised above
        Grader(box, task_overrides=PLAIN).grade(submission, out_dir=Path(out))
    timeline = _timeline.install([type(box)])
    graded, plain, parts = [], [], []
    for i in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            report = Grader(box, task_overrides=PLAIN).grade(submission, out_dir=Path(out))
            ended = time.perf_counter()
            assert report.status == "graded" and not report.failures, report.failures
        graded.append(ended - started)
        parts.append(_timeline.breakdown(timeline, started, ended))
        plain.append(direct(task, submission))
        print(f"(a) run {i + 1}: grader {graded[-1]:.2f} s (train {report.phases['train'].duration_s:.2f} s, "
              f"predict {report.phases['predict'].duration_s:.2f} s), direct {plain[-1]:.2f} s", flush=True)
    g, p = statistics.median(graded), statistics.median(plain)
    _timeline.print_breakdown(f"(a) {TASK} reference, one training, no latency loop, in-process, median of {repeat}",
                              _timeline.median_breakdown(parts), timeline.missing)
    print(f"  {'direct train + predict (plain Python on the host)':<64} {p:7.2f}")
    print(f"  {'grading / direct  (the overhead ratio)':<64} {g / p:7.2f} x")


def full_grading(submission: Path, sandbox: str, repeat: int) -> None:
    parts, walls = [], []
    missing: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{tmp}/mlflow.db"
        from grader.integrations.mlflow import Tracking, prepare_store

        prepare_store(Tracking(uri))  # an existing store, as on a machine that graded before
        for i in range(repeat):
            record, out = Path(tmp, f"timeline-{i}.json"), Path(tmp, f"out-{i}")
            argv = [sys.executable, "-c", CHILD, str(record), "grade", str(submission), "--out", str(out),
                    "--sandbox", sandbox, "--mlflow-uri", uri]
            started = time.perf_counter()
            done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            ended = time.perf_counter()
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            timeline = _timeline.Timeline.from_json(record.read_text())
            missing = timeline.missing
            parts.append(_timeline.breakdown(timeline, started, ended))
            walls.append(ended - started)
            print(f"(b) run {i + 1}: `grader grade` {walls[-1]:.2f} s wall, candidate phases "
                  f"{parts[-1].candidate:.2f} s", flush=True)
    _timeline.print_breakdown(f"(b) {TASK} reference, full default grading, `grader grade` with MLflow (existing "
                              f"store), median of {repeat}", _timeline.median_breakdown(parts), missing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--sandbox", default="docker")
    ap.add_argument("--only", choices=["a", "b"])
    args = ap.parse_args()
    task = get_task(TASK)
    submission = task.root / "examples" / "reference"
    print(_timeline.load_average(), flush=True)
    if args.only != "b":
        box = get_backend(args.sandbox)
        try:
            one_training(task, submission, box, args.repeat)
        finally:
            box.close()
    if args.only != "a":
        full_grading(submission, args.sandbox, args.repeat)
    print(f"\n{_timeline.load_average()}")


if __name__ == "__main__":
    main()
