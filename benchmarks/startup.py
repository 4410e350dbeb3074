"""How long the light commands take to answer, against the interpreter's own start.

Prints the median wall time of N runs of each command (the ``grader`` console script next to this
Python, output discarded), side by side with ``python -c pass``, the ratio to it, and whether each
meets the target of issue 10 (at most 0.35 s and at most 8x ``python -c pass``). Two reference rows
explain what is left: ``import grader`` alone, and the floor of any command that loads a spec
(click, rich, PyYAML, pydantic and one validated model, with nothing of the grader). ``task list``
answers from its cache of validated summaries; the cold row empties the cache each run.
The runs of all rows are interleaved, so a busy moment of the machine spreads over every row.
Run: `python -m benchmarks.startup [--runs N]`.
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

TARGET_S = 0.35
TARGET_RATIO = 8.0
GRADER = str(Path(sys.executable).with_name("grader"))
FLOOR = ("import click, rich.console, rich.table, yaml, pydantic\n"
         "class M(pydantic.BaseModel):\n    x: int\nM(x=1)\n")

#: label -> argv; the first row is the yardstick, the ``*`` rows are the targets.
ROWS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "python -c 'import grader'": [sys.executable, "-c", "import grader"],
    "floor: click+rich+yaml+pydantic": [sys.executable, "-c", FLOOR],
    "* grader --help": [GRADER, "--help"],
    "* grader --version": [GRADER, "--version"],
    "* grader task list": [GRADER, "task", "list"],
    "* grader schema report": [GRADER, "schema", "report"],
    "grader task list, cold cache": [GRADER, "task", "list"],
}
#: Rows run with an empty task-list cache each time (the first listing after a code or task change).
COLD = {"grader task list, cold cache"}


def run_once(argv: list[str], cold: bool = False) -> float:
    with tempfile.TemporaryDirectory(prefix="grader-bench-cache-") as empty:
        env = {**os.environ, "GRADER_CACHE_DIR": empty} if cold else None
        started = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each command (default 9)")
    args = parser.parse_args()
    for argv in ROWS.values():  # warm the page cache and the bytecode caches
        run_once(argv)
    times: dict[str, list[float]] = {label: [] for label in ROWS}
    for _ in range(args.runs):
        for label, argv in ROWS.items():
            times[label].append(run_once(argv, cold=label in COLD))
    medians = {label: statistics.median(t) for label, t in times.items()}
    base = medians["python -c pass"]
    print(f"median of {args.runs} runs; target: at most {TARGET_S} s and {TARGET_RATIO:g}x python -c pass "
          f"({TARGET_RATIO * base:.3f} s here)")
    print(f"{'command':34} {'median s':>9} {'min s':>7} {'x pass':>7}  target")
    for label, median in medians.items():
        verdict = ""
        if label.startswith("*"):
            verdict = "met" if median <= TARGET_S and median <= TARGET_RATIO * base else "MISSED"
        print(f"{label:34} {median:9.3f} {min(times[label]):7.3f} {median / base:7.1f}  {verdict}")


if __name__ == "__main__":
    main()
