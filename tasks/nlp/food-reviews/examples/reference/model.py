"""Prediction side of the reference submission: ``load(artifacts_dir)`` returns the model.

Reads only ``<artifacts_dir>/model.joblib`` (written by ``train.py``); never touches ``/data``.
``prepare`` is shared with ``train.py`` so training and serving clean texts the same way.
"""

from __future__ import annotations

import os

# One CPU in the sandbox, and threads count against its process limit: no thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import html  # noqa: E402
import re  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from pathlib import Path  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402

MODEL_FILE = "model.joblib"
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,300}>")  # <br />, <a href="...">, </a>, <p>, <span ...>


def prepare(texts: Iterable[object]) -> list[str]:
    """Plain strings: the source's HTML tags (mostly ``<br />`` line breaks, and some links to other
    products) become spaces and its entities (``&quot;``, ``&eacute;``) characters. A missing value
    (None, NaN) becomes the empty string, so a batch never fails on one bad item; a lone string is
    refused, as it would be read as a list of characters."""
    if isinstance(texts, (str, bytes)):
        raise TypeError("expected a list of texts, got a single string")
    out = []
    for text in texts:
        if text is None or (isinstance(text, float) and np.isnan(text)):
            text = ""
        out.append(html.unescape(_TAG.sub(" ", str(text))))
    return out


class ReviewModel:
    """A fitted TF-IDF + logistic regression pipeline plus the decision threshold on
    P(positive class) chosen in training."""

    def __init__(self, pipeline, threshold: float, classes: list[str], positive_class: str, **_: object) -> None:
        self.pipeline = pipeline
        self.threshold = float(threshold)
        self.classes = list(classes)
        self.positive_class = positive_class
        self.negative_class = next(c for c in self.classes if c != positive_class)
        self._pos_col = list(pipeline.classes_).index(True)

    def _p_positive(self, texts) -> np.ndarray:
        return self.pipeline.predict_proba(prepare(texts))[:, self._pos_col]

    def predict_proba(self, texts) -> np.ndarray:
        """n x 2, columns in the task's ``classes`` order."""
        p = self._p_positive(texts)
        cols = {self.positive_class: p, self.negative_class: 1.0 - p}
        return np.column_stack([cols[c] for c in self.classes])

    def predict(self, texts) -> list[str]:
        p = self._p_positive(texts)
        return [self.positive_class if x >= self.threshold else self.negative_class for x in p]


def load(artifacts_dir: str) -> ReviewModel:
    return ReviewModel(**joblib.load(Path(artifacts_dir) / MODEL_FILE))
