"""What gradings side by side do to the reference's latency figures, and what the machine-wide latency lock
(:func:`grader.grading.workers.machine_lock`, taken around the timed prediction) does about it.

Three scenarios, each grading the credit reference (one training per grading, the task's own latency
settings) through :class:`grader.grading.batch.Batch`, in this process, one Docker sandbox per worker:

- alone: one grading at a time (``--alone N`` of them, one after the other);
- a batch of four copies on two workers without the lock (``Grader(latency_lock=False)``): two timed
  phases may overlap;
- the same batch with the default lock, around the timed phases only: they never overlap, but other
  gradings' trainings still run beside them;
- the same batch on a quiet machine (``MachineLock(quiet=True)``): every other sandbox run of every
  grading holds the lock shared, so nothing else runs in a sandbox while one is timed.

Measured twice on a 2-core machine shared with another CI run (so "alone" is not quiet either),
2026-12-02, medians of the gradings' p50 / p95 in ms (batch wall time):

    alone                 15.4 / 28.1        14.3 / 19.1
    4 on 2, no lock       37.7 / 72.6 (81 s) 36.9 / 53.0 (68 s)
    4 on 2, default lock  21.4 / 88.9 (125 s) 19.0 / 29.2 (73 s)
    4 on 2, quiet         16.9 / 22.2 (97 s) 18.1 / 21.2 (71 s)

Prints p50 / p95 of every grading, their median per scenario, and each batch's wall time.
Run: `python -m benchmarks.batch_latency [--alone 2] [--size 4] [--workers 2]`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from grader.grading.batch import Batch, discover
from grader.grading.pipeline import Grader, Progress
from grader.grading.workers import MachineLock
from grader.sandbox import get_backend
from grader.spec.cohort import CohortEntry
from grader.spec.report import Report
from grader.spec.task import tasks_dir

REFERENCE = tasks_dir() / "tabular/credit-default/examples/reference"
ONE_TRAINING = {"reproducibility": {"runs": 1}}


def scenario(name: str, copies: int, workers: int, lock: bool | MachineLock, tmp: Path) -> tuple[list[Report], float]:
    subs = tmp / name / "subs"
    for i in range(copies):
        shutil.copytree(REFERENCE, subs / f"ref{i + 1}")

    def make(progress: Progress) -> Grader:
        return Grader(get_backend("docker"), progress=progress, task_overrides=ONE_TRAINING, latency_lock=lock)

    out = tmp / name / "out"
    started = time.perf_counter()
    results: list[CohortEntry] = Batch(make, out, workers=workers, force=True).run(discover([subs]))
    wall = time.perf_counter() - started
    return [Report.model_validate_json((out / r.report).read_bytes()) for r in results], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alone", type=int, default=2, help="gradings of the reference one at a time")
    parser.add_argument("--size", type=int, default=4, help="copies of the reference in each batch")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    batch = f"batch{args.size}x{args.workers}"
    plan: list[tuple[str, int, int, bool | MachineLock]] = [
        ("alone", args.alone, 1, True), (f"{batch}-nolock", args.size, args.workers, False),
        (f"{batch}-lock", args.size, args.workers, True),
        (f"{batch}-quiet", args.size, args.workers, MachineLock(quiet=True))]
    print(f"{'scenario':<22} {'grading':>8} {'p50 ms':>8} {'p95 ms':>8} {'status':>8}")
    summary = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        for name, copies, workers, lock in plan:
            reports, wall = scenario(name, copies, workers, lock, Path(tmp))
            for i, rep in enumerate(reports, 1):
                print(f"{name:<22} {i:>8} {rep.latency.p50_ms or float('nan'):>8.2f} "
                      f"{rep.latency.p95_ms or float('nan'):>8.2f} {rep.status:>8}")
            p50 = [r.latency.p50_ms for r in reports if r.latency.p50_ms is not None]
            p95 = [r.latency.p95_ms for r in reports if r.latency.p95_ms is not None]
            summary.append((name, statistics.median(p50) if p50 else None, max(p50, default=None),
                            statistics.median(p95) if p95 else None, max(p95, default=None), wall))
    print()
    print(f"{'scenario':<22} {'p50 med':>8} {'p50 max':>8} {'p95 med':>8} {'p95 max':>8} {'wall s':>8}")
    for name, *figures, wall in summary:
        cells = " ".join(f"{f:>8.2f}" if f is not None else f"{'n/a':>8}" for f in figures)
        print(f"{name:<22} {cells} {wall:>8.1f}")


if __name__ == "__main__":
    main()
