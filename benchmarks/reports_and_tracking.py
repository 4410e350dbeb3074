"""What writing the reports and logging to MLflow add to a grading, per report.

Prints, for each report given (default: the real graded fixtures in tests/report/fixtures): the
time to render each format (report.md, report.html, junit.xml) and its size; then the MLflow
figures: importing mlflow, creating a new embedded SQLite store, and logging one grading (params,
metrics, tags, the report files as artifacts) into it, first and following runs.
Run: `python -m benchmarks.reports_and_tracking [REPORT.json ...] [--repeat N]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.report.write import RENDERERS, renderer, write_reports
from grader.spec.report import Report

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "report" / "fixtures"


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paths = args.reports or sorted(FIXTURES.glob("*.json"))
    reports = {p.stem: Report.model_validate_json(p.read_text()) for p in paths}
    print(f"{'report':<12} {'format':<12} {'median ms':>10} {'KiB':>8}")
    for name, report in reports.items():
        for filename in RENDERERS:
            render = renderer(filename)
            seconds, text = timed(lambda r=render, rep=report: r(rep), args.repeat)  # type: ignore[misc]
            print(f"{name:<12} {filename:<12} {seconds * 1000:>10.1f} {len(str(text).encode()) / 1024:>8.1f}")

    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import mlflow"], check=True)
    print(f"\nimport mlflow (fresh interpreter): {time.perf_counter() - started:.2f} s")
    from grader.integrations.mlflow import Tracking, log_grading, prepare_store

    report = next(iter(reports.values()))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "out")
        write_reports(report.model_copy(deep=True), out)
        tracking = Tracking(f"sqlite:///{tmp}/mlflow.db")
        started = time.perf_counter()
        prepare_store(tracking)
        print(f"create a new SQLite store: {time.perf_counter() - started:.2f} s")
        runs = []
        for _ in range(args.repeat + 1):
            copy = report.model_copy(deep=True)
            started = time.perf_counter()
            assert log_grading(copy, out, tracking) is not None, copy.warnings
            runs.append(time.perf_counter() - started)
        print(f"log one grading: first {runs[0]:.2f} s (new experiment), then median "
              f"{statistics.median(runs[1:]):.2f} s over {args.repeat}")


if __name__ == "__main__":
    main()
