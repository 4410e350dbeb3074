"""What the uncertainty figures cost a grading, on each bundled task's hidden split.

For every task: its hidden labels (the real rows and class counts), and predictions of a model that
is right about 80% of the time with continuous probabilities (every score distinct: the most work for
ROC AUC and average precision). Prints the median wall time over N runs of: the stratified bootstrap
counts alone, ``metrics_ci`` for the task's metrics (counts included, the cost a grading pays), the
paired bootstrap of the difference against another model (``grader grade --baseline``, one row of
``grader compare``), and the calibration (Brier score and bins); plus the widest interval it found,
to say what the cost buys. Run: ``python -m benchmarks.bootstrap [--runs N] [--resamples B]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from grader.data.splits import labels
from grader.evaluate import uncertainty
from grader.evaluate.metrics import Outcome
from grader.spec.task import TaskSpec, discover_tasks, load_task


def predictions(task: TaskSpec, truth: np.ndarray, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    classes = list(task.classes)
    codes = np.array([classes.index(str(v)) for v in truth])
    logits = rng.normal(size=(len(truth), len(classes)))
    logits[np.arange(len(truth)), codes] += 2.2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    pred = np.array(classes, dtype=object)[proba.argmax(axis=1)]
    return Outcome(truth, pred, classes, task.positive_class, proba)


def median_s(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: imports, first allocations
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=uncertainty.RESAMPLES)
    args = parser.parse_args()
    b = args.resamples
    print(f"{b} resamples, median of {args.runs} runs, seconds")
    print(f"{'task':<24}{'rows':>6}{'classes':>8}  {'counts':>7}{'metrics_ci':>11}{'paired':>8}{'calib':>8}"
          "  widest interval")
    for task_id, path in sorted(discover_tasks().items()):
        task = load_task(path)
        truth = labels(task, "test")
        one, other = predictions(task, truth, 1), predictions(task, truth, 2)
        coded = uncertainty.Coded.of(one)
        counts = median_s(lambda: uncertainty.weights(coded.truth, b), args.runs)  # noqa: B023
        ci = median_s(lambda: uncertainty.intervals(one, task.metrics, resamples=b), args.runs)  # noqa: B023
        paired = median_s(lambda: uncertainty.paired(one, other, task.metrics, resamples=b), args.runs)  # noqa: B023
        calib = median_s(lambda: uncertainty.calibration(one), args.runs)  # noqa: B023
        found = uncertainty.intervals(one, task.metrics, resamples=b)
        name, widest = max(found.items(), key=lambda item: item[1].high - item[1].low)
        print(f"{task_id:<24}{len(truth):>6}{len(task.classes):>8}  {counts:>7.3f}{ci:>11.3f}{paired:>8.3f}"
              f"{calib:>8.4f}  {name} ±{(widest.high - widest.low) / 2:.3f}")
    tasks = sorted(discover_tasks().items())
    print("metrics: " + "; ".join(f"{t}: {', '.join(load_task(p).metrics)}" for t, p in tasks))


if __name__ == "__main__":
    main()
