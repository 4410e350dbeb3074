"""A task's split files, read the same way everywhere: labels, prediction inputs, and items.

Tabular and NLP splits are CSV files (features or a ``text`` column, and the label column); CV
splits are ``.npz`` files with ``images`` (uint8) and ``labels`` (class names). This is the one
place that knows it: the grading pipeline, ``grader task validate`` and ``grader task export`` all
go through here.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from grader.data.files import read_npz
from grader.spec.task import TaskSpec

Split = Literal["train", "valid", "test"]
TEXT_COLUMN = "text"
#: What the timer reads in the prediction sandbox, per suite (see grader/runtime/timer.py).
INPUT_FILES = {"tabular": "features.csv", "nlp": "texts.json", "cv": "images.npy"}
#: The rows of the untimed probe call, beside the inputs (see grader/data/twins.py).
PROBE_FILE = "probe.json"


def read_table(task: TaskSpec, split: Split) -> pd.DataFrame:
    """A CSV split as strings, exactly as written (empty cells stay empty strings)."""
    return pd.read_csv(task.data_path(split), dtype=str, keep_default_na=False)


def labels(task: TaskSpec, split: Split) -> np.ndarray:
    """The split's labels as an object array of class names."""
    if task.suite == "cv":
        return read_npz(task.data_path(split))["labels"].astype(str).astype(object)
    assert task.label_column is not None
    return read_table(task, split)[task.label_column].to_numpy(dtype=object)


def write_inputs(task: TaskSpec, split: Split, folder: Path) -> int:
    """Write the split's inputs, never its labels, for the timer; return how many there are."""
    folder.mkdir(parents=True)
    target = folder / INPUT_FILES[task.suite]
    if task.suite == "cv":
        images = read_npz(task.data_path(split))["images"]
        np.save(target, images, allow_pickle=False)
        return len(images)
    frame = read_table(task, split)
    if task.suite == "nlp":
        target.write_text(json.dumps(frame[TEXT_COLUMN].tolist(), ensure_ascii=False), encoding="utf-8")
    else:
        # Labels are dropped here, on the host: only features enter the sandbox.
        frame.drop(columns=[task.label_column]).to_csv(target, index=False, lineterminator="\n")
    return len(frame)


def normalise_text(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def item_keys(task: TaskSpec, split: Split) -> list[str]:
    """One key per item, equal for items that are the same input: a row's features (tabular), a
    normalised text (NLP), an image's pixel bytes (CV). Used to find leaks between splits."""
    if task.suite == "cv":
        images = read_npz(task.data_path(split))["images"]
        return [hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest() for img in images]
    frame = read_table(task, split)
    if task.suite == "nlp":
        return [normalise_text(t) for t in frame[TEXT_COLUMN]]
    features = frame[list(task.feature_columns)]
    return ["\x1f".join(row) for row in features.itertuples(index=False, name=None)]
