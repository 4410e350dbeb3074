"""Prediction side of the reference submission: ``load(artifacts_dir)`` returns the model.

Reads only ``<artifacts_dir>/model.joblib`` (written by ``train.py``); never touches ``/data``.
``prepare`` is shared with ``train.py`` so training and serving see identical inputs.
"""

from __future__ import annotations

import os

# One CPU in the sandbox, and threads count against its process limit: no thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

MODEL_FILE = "model.joblib"


def prepare(df: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """The feature columns in training order, with stable types whatever pandas inferred.

    A single row read from CSV can make a categorical column float (a lone missing value) and
    pandas 3 may hand over its ``str`` dtype: numbers become float64, categories become object
    columns of Python strings or NaN, so the fitted pipeline always sees the same kinds of values.
    """
    missing = [c for c in (*numeric, *categorical) if c not in df.columns]
    if missing:
        raise KeyError(f"input is missing feature columns {missing}")
    columns: dict[str, pd.Series] = {}
    for col in numeric:
        values = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        columns[col] = pd.Series(values, dtype="float64")
    for col in categorical:
        values = [np.nan if pd.isna(v) else str(v) for v in df[col].to_numpy(dtype=object)]
        columns[col] = pd.Series(values, dtype=object)  # object, not pandas 3's inferred "str"
    return pd.DataFrame(columns)


class CreditModel:
    """A fitted pipeline plus the decision threshold on P(positive class) chosen in training."""

    def __init__(self, pipeline, threshold: float, classes: list[str], positive_class: str,
                 numeric: list[str], categorical: list[str], **_: object) -> None:
        self.pipeline = pipeline
        self.threshold = float(threshold)
        self.classes = list(classes)
        self.positive_class = positive_class
        self.negative_class = next(c for c in self.classes if c != positive_class)
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self._pos_col = list(pipeline.classes_).index(True)

    def _p_positive(self, df: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(prepare(df, self.numeric, self.categorical))[:, self._pos_col]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """n x 2, columns in the task's ``classes`` order."""
        p = self._p_positive(df)
        cols = {self.positive_class: p, self.negative_class: 1.0 - p}
        return np.column_stack([cols[c] for c in self.classes])

    def predict(self, df: pd.DataFrame) -> list[str]:
        p = self._p_positive(df)
        return [self.positive_class if x >= self.threshold else self.negative_class for x in p]


def load(artifacts_dir: str) -> CreditModel:
    return CreditModel(**joblib.load(Path(artifacts_dir) / MODEL_FILE))
