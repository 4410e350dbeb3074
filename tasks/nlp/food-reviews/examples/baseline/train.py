"""Majority-class baseline for nlp/food-reviews: learns only the class frequencies.

Reads $GRADER_DATA_DIR/{task.json,train.csv}; writes $GRADER_ARTIFACTS_DIR/baseline.json.
It always predicts the most frequent training label ("great"), so it never flags an unhappy
customer: its recall on "other" is 0, and it exists to show what failing the pass rule looks like.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd

DATA = Path(os.environ.get("GRADER_DATA_DIR", "/data"))
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS_DIR", "/artifacts"))


def main() -> int:
    task = json.loads((DATA / "task.json").read_text(encoding="utf-8"))
    labels = pd.read_csv(DATA / "train.csv", keep_default_na=False)[task["label_column"]]
    counts = labels.value_counts()
    frequencies = {c: float(counts.get(c, 0)) / len(labels) for c in task["classes"]}
    majority = max(task["classes"], key=lambda c: frequencies[c])  # ties: first in classes order
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    state = {"classes": task["classes"], "frequencies": frequencies, "majority": majority}
    (ARTIFACTS / "baseline.json").write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
