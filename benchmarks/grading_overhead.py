"""How much the grader costs on top of the work itself, for the reference submission.

Prints: total grading time in the Docker sandbox for one training run without the latency
measurement (staging, two fresh sandboxes, scoring), the time the same train + predict take run
directly with Python outside any grader, and their ratio; then the time of a full default grading
(the task's trainings for the reproducibility check, and the latency measurement), for scale.
Run: `python benchmarks/grading_overhead.py [--repeat N] [--sandbox docker|local]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmarks import _direct
from grader.grading.pipeline import Grader
from grader.sandbox import get_backend
from grader.spec.task import get_task

TASK = "tabular/credit-default"
#: What the overhead comparison grades: one training, predictions without the latency loop.
PLAIN = {"reproducibility": {"runs": 1}, "latency": {"enabled": False}}


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sandbox", default="docker")
    args = ap.parse_args()
    task = get_task(TASK)
    submission = task.root / "examples" / "reference"
    box = get_backend(args.sandbox)
    graded, plain, full, phases = [], [], [], []
    try:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                report = Grader(box, task_overrides=PLAIN).grade(submission, out_dir=Path(out))
                graded.append(time.perf_counter() - started)
                assert report.status == "graded" and not report.failures, report.failures
                phases.append({k: v.duration_s for k, v in report.phases.items()})
            plain.append(direct(task, submission))
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                report = Grader(box).grade(submission, out_dir=Path(out))
                full.append(time.perf_counter() - started)
                assert report.passed, report.failures
            print(f"run {i + 1}: grader {graded[-1]:.2f} s (train {phases[-1]['train']:.2f} s, "
                  f"predict {phases[-1]['predict']:.2f} s), direct {plain[-1]:.2f} s, "
                  f"full default grading {full[-1]:.2f} s", flush=True)
    finally:
        box.close()
    g, p, f = statistics.median(graded), statistics.median(plain), statistics.median(full)
    print(f"\n{TASK} reference, {args.sandbox} sandbox, median of {args.repeat}:")
    print(f"  grading, one training, no latency loop  {g:7.2f} s")
    print(f"  direct train + predict                  {p:7.2f} s")
    print(f"  ratio                                   {g / p:7.2f} x")
    print(f"  full default grading                    {f:7.2f} s   ({task.reproducibility.runs} trainings, "
          "latency measured)")


if __name__ == "__main__":
    main()
