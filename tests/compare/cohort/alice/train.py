"""Training: a starting point that follows the submission contract. Replace the model with yours.

Reads the public data from $GRADER_DATA_DIR (task.json, and train/valid as .csv or .npz), seeds
everything from $GRADER_SEED, and writes the model to $GRADER_ARTIFACTS_DIR: the only folder that
survives into the prediction phase. This version fits a scaled logistic regression.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DATA = Path(os.environ.get("GRADER_DATA_DIR", "data"))
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS_DIR", "artifacts"))
SEED = int(os.environ.get("GRADER_SEED", "0"))


def features(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    encoded = pd.get_dummies(frame[columns], dummy_na=True)
    return encoded.fillna(encoded.median(numeric_only=True)).astype(float)


def main() -> None:
    random.seed(SEED)
    np.random.seed(SEED)
    task = json.loads((DATA / "task.json").read_text(encoding="utf-8"))
    train = pd.read_csv(DATA / "train.csv")
    x = features(train, task["feature_columns"])
    y = train[task["label_column"]]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, class_weight="balanced", max_iter=500))
    model.fit(x, y)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    joblib.dump({"model": model, "columns": list(x.columns), "features": task["feature_columns"],
                 "classes": task["classes"]}, ARTIFACTS / "model.joblib")
    print(f"trained on {len(train)} rows, {x.shape[1]} encoded columns")


if __name__ == "__main__":
    main()
