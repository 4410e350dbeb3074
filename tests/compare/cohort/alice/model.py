"""Prediction: ``load(artifacts_dir)`` returns the model; the grader calls ``predict`` (and
``predict_proba`` when it exists) on batches and on single items.

Inputs: a pandas DataFrame of the feature columns (tabular), a list of strings (NLP), or a uint8
numpy array of images (CV). ``predict`` returns one class name per input, in order.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import pandas as pd


class Model:
    def __init__(self, model, columns: list[str], features: list[str], classes: list[str]) -> None:
        self.model, self.columns, self.features, self.classes = model, columns, features, classes

    def _encode(self, inputs: pd.DataFrame) -> pd.DataFrame:
        encoded = pd.get_dummies(inputs[self.features], dummy_na=True)
        return encoded.reindex(columns=self.columns, fill_value=0).fillna(0).astype(float)

    def predict(self, inputs) -> list[str]:
        return [str(label) for label in self.model.predict(self._encode(inputs))]

    def predict_proba(self, inputs) -> list[list[float]]:
        proba = self.model.predict_proba(self._encode(inputs))
        order = [list(self.model.classes_).index(c) for c in self.classes]
        return proba[:, order].tolist()


def load(artifacts_dir: str) -> Model:
    return Model(**joblib.load(Path(artifacts_dir) / "model.joblib"))
