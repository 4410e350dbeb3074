"""Majority-class baseline: ``load(artifacts_dir)`` returns a model that ignores its inputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


class MajorityModel:
    def __init__(self, classes: list[str], frequencies: dict[str, float], majority: str) -> None:
        self.classes = list(classes)
        self.majority = majority
        self.row = np.array([frequencies[c] for c in self.classes], dtype=float)

    def predict(self, texts) -> list[str]:
        return [self.majority] * len(texts)

    def predict_proba(self, texts) -> np.ndarray:
        """The training class frequencies for every text, columns in ``classes`` order."""
        return np.tile(self.row, (len(texts), 1))


def load(artifacts_dir: str) -> MajorityModel:
    return MajorityModel(**json.loads((Path(artifacts_dir) / "baseline.json").read_text(encoding="utf-8")))
