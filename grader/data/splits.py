"""A task's split files, read the same way everywhere: labels, prediction inputs, and items.

Tabular and NLP splits are CSV files (features or a ``text`` column, and the label column); CV
splits are ``.npz`` files with ``images`` (uint8) and ``labels`` (class names). This is the one
place that knows it: the grading pipeline, ``grader task validate`` and ``grader task export`` all
go through here. A split that does not have the layout task.yaml describes is a :class:`SpecError`
naming the file, the task.yaml field and the fix, never a ``KeyError`` halfway through a grading.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from grader.data.files import read_npz
from grader.errors import SpecError
from grader.spec.task import TaskSpec

Split = Literal["train", "valid", "test"]
TEXT_COLUMN = "text"
#: What the timer reads in the prediction sandbox, per suite (see grader/runtime/timer.py).
INPUT_FILES = {"tabular": "features.csv", "nlp": "texts.json", "cv": "images.npy"}
#: The rows of the untimed probe call, beside the inputs (see grader/data/twins.py).
PROBE_FILE = "probe.json"
#: The arrays of a CV split.
CV_ARRAYS = ("images", "labels")


def _file(task: TaskSpec, split: Split) -> str:
    """How messages name a split: its file in the task folder, and the task.yaml field that points at it."""
    return f"{getattr(task.data, split).path} (data.{split}.path)"


def _task(task: TaskSpec) -> str:
    return f"task {task.id} ({task.root})"


def read_table(task: TaskSpec, split: Split) -> pd.DataFrame:
    """A CSV split as strings, exactly as written (empty cells stay empty strings)."""
    try:
        return pd.read_csv(task.data_path(split), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise SpecError(f"{_task(task)}: {_file(task, split)} is empty: no header row and no rows",
                        f"re-run {task.data.script}: each split is a CSV file with a header row") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SpecError(f"{_task(task)}: {_file(task, split)} is not a CSV file pandas can read: {exc}".strip(),
                        f"write it in {task.data.script} with DataFrame.to_csv(path, index=False)") from None


def read_arrays(task: TaskSpec, split: Split) -> dict[str, np.ndarray]:
    """A CV split's arrays, by name."""
    try:
        return read_npz(task.data_path(split))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SpecError(f"{_task(task)}: {_file(task, split)} is not an .npz file numpy can read without "
                        f"pickles: {exc}",
                        f"write it in {task.data.script} with grader.data.files.write_npz(path, images=..., "
                        "labels=...)") from None


def rows(task: TaskSpec, split: Split) -> int:
    """How many items the split holds, whatever its columns."""
    if task.suite == "cv":
        arrays = read_arrays(task, split)
        return len(arrays["labels" if "labels" in arrays else "images"]) if arrays else 0
    return len(read_table(task, split))


def _table_problems(task: TaskSpec, split: Split, frame: pd.DataFrame) -> list[str]:
    name, script, columns = _file(task, split), task.data.script, list(frame.columns)
    problems = []
    label = task.label_column
    wanted = list(task.feature_columns) if task.suite == "tabular" else [TEXT_COLUMN]
    missing = [c for c in wanted if c not in columns]
    extra = [c for c in columns if c not in wanted and c != label]
    if label not in columns:
        guess = f"set label_column: {extra[0]}, or " if len(extra) == 1 else "set label_column to its column, or "
        problems.append(f"{name} has no column {label!r}, which label_column in task.yaml names (its columns: "
                        f"{columns}): {guess}name the label's column {label!r} in {script}")
        if len(extra) == 1:  # that column is named above as the likely label
            extra = []
    if missing and task.suite == "tabular":
        problems.append(f"{name} has no column(s) {missing} that feature_columns in task.yaml lists: list the "
                        f"file's feature columns in feature_columns, or write these columns in {script}")
    elif missing:
        problems.append(f"{name} has no column {TEXT_COLUMN!r}: an nlp split holds exactly the columns "
                        f"{TEXT_COLUMN!r} and {label!r} (label_column); name the text's column {TEXT_COLUMN!r} "
                        f"in {script}")
    if extra and task.suite == "tabular":
        problems.append(f"{name} has column(s) {extra} that are neither feature_columns nor label_column in "
                        f"task.yaml: add them to feature_columns, or drop them in {script}")
    elif extra:
        problems.append(f"{name} has column(s) {extra} besides {TEXT_COLUMN!r} and {label!r}: an nlp split "
                        f"holds these two only; drop the others in {script}")
    if not problems and frame.empty:
        problems.append(f"{name} has a header but no rows: every split needs items of every class; check "
                        f"{script}")
    return problems


def _array_problems(task: TaskSpec, split: Split, arrays: dict[str, np.ndarray]) -> list[str]:
    name, script = _file(task, split), task.data.script
    absent = [a for a in CV_ARRAYS if a not in arrays]
    if absent:
        return [f"{name} has no array(s) {absent} (it has {sorted(arrays)}): a cv split holds 'images' (uint8, "
                f"n x {' x '.join(map(str, task.image_shape or []))}) and 'labels' (class names); write both in "
                f"{script} with grader.data.files.write_npz(path, images=..., labels=...)"]
    images, labels_ = arrays["images"], arrays["labels"]
    shape = list(task.image_shape or [])
    problems = []
    if images.dtype != np.uint8:
        problems.append(f"{name}: images are {images.dtype}, expected uint8 (pixel values 0-255): convert them "
                        f"in {script} (e.g. numpy.clip(x * 255, 0, 255).round().astype(numpy.uint8) for 0-1 floats)")
    if images.ndim < 1 or list(images.shape[1:]) != shape:
        problems.append(f"{name}: each image is {list(images.shape[1:])}, but image_shape in task.yaml is {shape}: "
                        f"set image_shape: {list(images.shape[1:])} if that is the shape, or reshape the images "
                        f"in {script}")
    if labels_.ndim != 1:
        problems.append(f"{name}: labels have shape {list(labels_.shape)}, expected one class name per image "
                        f"(shape [n]): write the class names, not one-hot rows, in {script}")
    elif images.ndim >= 1 and len(images) != len(labels_):
        problems.append(f"{name}: {len(images)} images but {len(labels_)} labels: write one label per image in "
                        f"{script}")
    if not problems and len(labels_) == 0:
        problems.append(f"{name} holds no images: every split needs items of every class; check {script}")
    return problems


def is_number(value: str) -> bool:
    """Whether a cell of a CSV split reads as a number (``float`` parses it)."""
    try:
        float(value)
    except ValueError:
        return False
    return True


def _mixed_columns(task: TaskSpec, split: Split, frame: pd.DataFrame) -> list[str]:
    """Feature columns that hold numbers, but text in a few rows: a typo or a missing-value marker that the
    candidate's parser turns into a string column (``5.`` and empty cells are fine)."""
    problems = []
    for column in task.feature_columns:
        values = frame[column]
        filled = values[values != ""]
        numeric = filled.map(is_number)
        if numeric.sum() > len(filled) / 2 and not numeric.all():
            first = int(np.flatnonzero(~numeric.to_numpy())[0])
            row = int(filled.index[first])
            problems.append(f"{_file(task, split)}: feature column {column!r} holds numbers, but row {row + 1} "
                            f"holds {filled.iloc[first]!r} ({int((~numeric).sum())} such row(s)): write numbers "
                            f"only, with an empty cell for a missing value, in {task.data.script}")
    return problems


def problems(task: TaskSpec, split: Split, *, content: bool = True) -> list[str]:
    """What is wrong with the split's layout against task.yaml, each naming the file, the field and the fix
    ([] when sound). ``content`` adds the slower checks of the values (text in a numeric feature column)."""
    try:
        if task.suite == "cv":
            return _array_problems(task, split, read_arrays(task, split))
        frame = read_table(task, split)
    except SpecError as exc:
        return [str(exc)]
    found = _table_problems(task, split, frame)
    if not found and content and task.suite == "tabular":
        found += _mixed_columns(task, split, frame)
    return found


def _require(task: TaskSpec, split: Split, found: list[str]) -> None:
    if found:
        raise SpecError(f"{_task(task)}: " + "; ".join(found),
                        f"`grader task validate {task.root}` lists every problem of the task's data")


def _table(task: TaskSpec, split: Split) -> pd.DataFrame:
    frame = read_table(task, split)
    _require(task, split, _table_problems(task, split, frame))
    return frame


def _arrays(task: TaskSpec, split: Split) -> dict[str, np.ndarray]:
    arrays = read_arrays(task, split)
    _require(task, split, _array_problems(task, split, arrays))
    return arrays


def labels(task: TaskSpec, split: Split) -> np.ndarray:
    """The split's labels as an object array of class names."""
    if task.suite == "cv":
        return _arrays(task, split)["labels"].astype(str).astype(object)
    assert task.label_column is not None
    return _table(task, split)[task.label_column].to_numpy(dtype=object)


def write_inputs(task: TaskSpec, split: Split, folder: Path) -> int:
    """Write the split's inputs, never its labels, for the timer; return how many there are."""
    folder.mkdir(parents=True)
    target = folder / INPUT_FILES[task.suite]
    if task.suite == "cv":
        images = _arrays(task, split)["images"]
        np.save(target, images, allow_pickle=False)
        return len(images)
    frame = _table(task, split)
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
        images = _arrays(task, split)["images"]
        return [hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest() for img in images]
    frame = _table(task, split)
    if task.suite == "nlp":
        return [normalise_text(t) for t in frame[TEXT_COLUMN]]
    features = frame[list(task.feature_columns)]
    return ["\x1f".join(row) for row in features.itertuples(index=False, name=None)]
