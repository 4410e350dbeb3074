"""Linear baseline: ``load(artifacts_dir)`` returns a logistic regression on 7x7 pooled pixels."""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402

MODEL_FILE = "baseline.joblib"
POOL = 4  # 28x28 -> 7x7: the mean of each 4x4 block of pixels


def pool(images: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) -> float (n, 49): block means, scaled to [0, 1]."""
    x = np.asarray(images, dtype=np.float64).reshape(-1, 28 // POOL, POOL, 28 // POOL, POOL)
    return x.mean(axis=(2, 4)).reshape(len(x), -1) / 255.0


class PooledLinearModel:
    def __init__(self, classifier, classes: list[str]) -> None:
        self.classifier = classifier
        self.classes = list(classes)
        self._columns = [list(classifier.classes_).index(c) for c in self.classes]

    def predict(self, images) -> list[str]:
        return [str(label) for label in self.classifier.predict(pool(images))]

    def predict_proba(self, images) -> np.ndarray:
        """n x 10, columns in the task's ``classes`` order."""
        return self.classifier.predict_proba(pool(images))[:, self._columns]


def load(artifacts_dir: str) -> PooledLinearModel:
    return PooledLinearModel(**joblib.load(Path(artifacts_dir) / MODEL_FILE))
