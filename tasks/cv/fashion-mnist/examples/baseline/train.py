"""Linear baseline for cv/fashion-mnist: logistic regression on 7x7 average-pooled pixels.

Reads $GRADER_DATA_DIR/{task.json,train.npz}; writes $GRADER_ARTIFACTS_DIR/baseline.joblib.
Each image is shrunk to 49 block means (``model.pool``), which keeps the coarse silhouette of a
trouser, a bag or a boot but blurs away collars, sleeves and buttons, and a multinomial logistic
regression is fitted on them. It takes a few seconds and is deterministic (lbfgs, no randomness).
It exists to show what failing the pass rule looks like: tops, shirts, pullovers and coats blur
into one another, and macro precision and recall stay below the gates.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True

from model import MODEL_FILE, pool  # noqa: E402 - sets the thread variables first

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

DATA = Path(os.environ.get("GRADER_DATA_DIR", "/data"))
ARTIFACTS = Path(os.environ.get("GRADER_ARTIFACTS_DIR", "/artifacts"))


def main() -> int:
    task = json.loads((DATA / "task.json").read_text(encoding="utf-8"))
    with np.load(DATA / "train.npz", allow_pickle=False) as data:
        images, labels = data["images"], data["labels"].astype(str)
    classifier = LogisticRegression(C=1.0, max_iter=2000).fit(pool(images), labels)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    joblib.dump({"classifier": classifier, "classes": task["classes"]}, ARTIFACTS / MODEL_FILE)
    print(json.dumps({"train_rows": len(labels), "features": int(classifier.coef_.shape[1]),
                      "iterations": int(np.max(classifier.n_iter_))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
