"""Training: a starting point that follows the submission contract. Replace the model with yours.

Reads the public data from $GRADER_DATA_DIR (task.json, and train/valid as .csv or .npz), seeds
everything from $GRADER_SEED, and writes the model to $GRADER_ARTIFACTS_DIR: the only folder that
survives into the prediction phase. Mine: a random forest with a threshold tuned on valid.
"""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score

DATA = Path(os.environ.get("GRADER_DATA_DIR", "data"))
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS_DIR", "artifacts"))
SEED = int(os.environ.get("GRADER_SEED", "0"))

CATEGORIES = {}


def encode(df, spec):
    out = {}
    for name in spec["feature_columns"]:
        col = df[name]
        if col.dtype == object:
            levels = CATEGORIES.setdefault(name, sorted(col.dropna().unique()))
            out[name] = col.map({v: i for i, v in enumerate(levels)}).fillna(-1)
        else:
            out[name] = col.fillna(-999)
    return pd.DataFrame(out)


def best_cut(truth, scores):
    grid = np.linspace(0.1, 0.9, 81)
    return max(grid, key=lambda t: f1_score(truth, scores >= t))


def main() -> None:
    random.seed(SEED)
    np.random.seed(SEED)
    spec = json.loads((DATA / "task.json").read_text(encoding="utf-8"))
    tr, va = pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "valid.csv")
    forest = RandomForestClassifier(n_estimators=300, min_samples_leaf=3, random_state=SEED, n_jobs=1)
    forest.fit(encode(tr, spec), tr[spec["label_column"]] == spec["positive_class"])
    p = forest.predict_proba(encode(va, spec))[:, 1]
    cut = best_cut(va[spec["label_column"]] == spec["positive_class"], p)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "forest.pkl", "wb") as fh:
        pickle.dump({"forest": forest, "cut": float(cut), "levels": CATEGORIES, "spec": spec}, fh)
    print("cut", cut)


if __name__ == "__main__":
    main()
