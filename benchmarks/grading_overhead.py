"""How much the grader costs on top of the work itself, for the reference submission.

Prints: total grading time in the Docker sandbox (staging, two fresh sandboxes, scoring), the time
the same train + predict take run directly with Python outside any grader, and their ratio.
Run: `python benchmarks/grading_overhead.py [--repeat N] [--sandbox docker|local]`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from grader.grading import Grader
from grader.sandbox import get_backend
from grader.spec.task import get_task

TASK = "tabular/credit-default"


def direct(task, submission: Path) -> float:
    """Train and predict with plain Python in temp folders: the floor the grader is compared with."""
    with tempfile.TemporaryDirectory() as tmp:
        data, artifacts = Path(tmp, "data"), Path(tmp, "artifacts")
        data.mkdir()
        artifacts.mkdir()
        (data / "task.json").write_text(json.dumps(task.public_info))
        for split in ("train", "valid"):
            shutil.copyfile(task.data_path(split), data / f"{split}.csv")
        features = pd.read_csv(task.data_path("test")).drop(columns=[task.label_column])
        env = {**os.environ, "GRADER_DATA_DIR": str(data), "GRADER_ARTIFACTS_DIR": str(artifacts),
               "GRADER_SEED": str(task.seed), "PYTHONHASHSEED": str(task.seed), "GRADER_TASK": task.id,
               "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        subprocess.run([sys.executable, "train.py"], cwd=submission, env=env, check=True)
        predict = ("import sys, pandas as pd; sys.path.insert(0, '.'); import model; "
                   f"m = model.load({str(artifacts)!r}); x = pd.read_csv({str(Path(tmp, 'x.csv'))!r}); "
                   "m.predict(x); m.predict_proba(x); [m.predict(x.iloc[i:i+1]) for i in range(100)]")
        features.to_csv(Path(tmp, "x.csv"), index=False)
        subprocess.run([sys.executable, "-c", predict], cwd=submission, env=env, check=True)
        return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sandbox", default="docker")
    args = ap.parse_args()
    task = get_task(TASK)
    submission = task.root / "examples" / "reference"
    box = get_backend(args.sandbox)
    graded, plain, phases = [], [], []
    try:
        for i in range(args.repeat):
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                report = Grader(box).grade(submission, out_dir=Path(out))
                graded.append(time.perf_counter() - started)
                assert report.passed, report.failures
                phases.append({k: v.duration_s for k, v in report.phases.items()})
            plain.append(direct(task, submission))
            print(f"run {i + 1}: grader {graded[-1]:.2f} s (train {phases[-1]['train']:.2f} s, "
                  f"predict {phases[-1]['predict']:.2f} s), direct {plain[-1]:.2f} s", flush=True)
    finally:
        box.close()
    g, p = statistics.median(graded), statistics.median(plain)
    print(f"\n{TASK} reference, {args.sandbox} sandbox, median of {args.repeat}:")
    print(f"  total grading time      {g:7.2f} s")
    print(f"  direct train + predict  {p:7.2f} s")
    print(f"  ratio                   {g / p:7.2f} x")


if __name__ == "__main__":
    main()
