"""``grader task validate``: sound tasks pass, and each way a task can be broken is named."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from grader.authoring.scaffold import scaffold
from grader.authoring.validate import validate
from grader.data.checksums import sha256_file
from grader.data.files import read_npz, write_npz
from grader.sandbox.docker.image import LOCK_FILE
from grader.spec.task import discover_tasks, tasks_dir

BUNDLED = sorted(discover_tasks())


def copy_task(task_id: str, tmp_path: Path) -> Path:
    dest = tmp_path / "tasks" / task_id
    shutil.copytree(tasks_dir() / task_id, dest)
    return dest


def rehash(folder: Path, split: str) -> None:
    """Update task.yaml after changing a data file on purpose (as a careless author would)."""
    spec = yaml.safe_load((folder / "task.yaml").read_text())
    data = spec["data"][split]
    data["sha256"] = sha256_file(folder / data["path"])
    data.pop("rows", None)
    (folder / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def failing(findings) -> dict[str, str]:
    return {f.check: f.message for f in findings if not f.ok}


@pytest.mark.parametrize("task_id", BUNDLED)
def test_bundled_tasks_are_sound_without_grading(task_id):
    findings = validate(tasks_dir() / task_id)
    assert failing(findings) == {}
    assert {"spec", "questions", "format", "classes", "leakage", "example reference"} <= {f.check for f in findings}


def test_a_tampered_data_file_is_named(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    with open(folder / "data" / "valid.csv", "a") as fh:
        fh.write("bad,1,rent,60,30,married,no,fixed,45,100,0,0,500,700\n")
    problems = failing(validate(folder))
    assert "does not match its sha256 in task.yaml" in problems["data valid"]
    assert "skipped" in problems["data"]


def _leak(folder: Path, task_id: str) -> None:
    if task_id.startswith("cv/"):
        train, test = read_npz(folder / "data" / "train.npz"), read_npz(folder / "data" / "test.npz")
        write_npz(folder / "data" / "train.npz", images=train["images"].copy(), labels=train["labels"].copy())
        arrays = {"images": train["images"].copy(), "labels": train["labels"].copy()}
        arrays["images"][0] = test["images"][5]
        write_npz(folder / "data" / "train.npz", **arrays)
    else:
        train = pd.read_csv(folder / "data" / "train.csv", dtype=str, keep_default_na=False)
        test = pd.read_csv(folder / "data" / "test.csv", dtype=str, keep_default_na=False)
        train.iloc[0] = test.iloc[5]
        train.to_csv(folder / "data" / "train.csv", index=False, lineterminator="\n")
    rehash(folder, "train")


@pytest.mark.parametrize("task_id", BUNDLED)
def test_a_leaked_item_is_found(tmp_path, task_id):
    folder = copy_task(task_id, tmp_path)
    _leak(folder, task_id)
    problems = failing(validate(folder))
    assert set(problems) == {"leakage"}, problems
    assert "1 item(s) of test are also in train (first: test row 6)" in problems["leakage"]


def test_wrong_labels_are_named(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    valid = pd.read_csv(folder / "data" / "valid.csv", dtype=str, keep_default_na=False)
    valid["Status"] = "good"
    valid.loc[0, "Status"] = "ugly"
    valid.to_csv(folder / "data" / "valid.csv", index=False, lineterminator="\n")
    rehash(folder, "valid")
    problems = failing(validate(folder))
    assert problems["classes"] == (
        "data/valid.csv: labels ['ugly'] in column 'Status' (label_column) are not among classes ['good', 'bad'] in "
        "task.yaml: add them to classes, or fix the labels in make_splits.py; data/valid.csv has no item of class "
        "['bad'] (classes in task.yaml): split stratified on the label in make_splits.py so that every split has "
        "every class, or remove the class from classes")
    assert "'bad' (positive_class in task.yaml) is missing from valid (data/valid.csv)" in problems["positive class"]


def test_wrong_columns_are_named_and_stop_the_content_checks(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    valid = pd.read_csv(folder / "data" / "valid.csv", dtype=str, keep_default_na=False)
    valid.rename(columns={"Price": "price"}).to_csv(folder / "data" / "valid.csv", index=False, lineterminator="\n")
    rehash(folder, "valid")
    problems = failing(validate(folder))
    assert "data/valid.csv (data.valid.path) has no column(s) ['Price'] that feature_columns" in problems["format"]
    assert "column(s) ['price'] that are neither feature_columns nor label_column" in problems["format"]
    assert "skipped" in problems["classes"] and "leakage" not in problems


def test_a_broken_spec_stops_at_the_spec(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    (folder / "task.yaml").write_text((folder / "task.yaml").read_text().replace("classes:", "clases:"))
    findings = validate(folder)
    assert len(findings) == 1 and not findings[0].ok and "unknown key 'clases'" in findings[0].message


def test_validate_command_exits_1_on_a_broken_task(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    (folder / "examples" / "baseline" / "requirements.txt").write_text("numpy\n")
    done = subprocess.run([sys.executable, "-m", "grader", "task", "validate", str(folder), "--no-grade"],
                          capture_output=True, text=True, env={**__import__("os").environ, "COLUMNS": "200"})
    assert done.returncode == 1 and "'numpy' is not pinned" in done.stdout and "0 of 1 task(s) sound" in done.stdout


# -- the task author's first hour: a scaffolded task, filled in, and every mistake an author can make --------

def write_split_files(folder: Path, suite: str, *, label: str = "churned") -> None:
    """Small, real split files of a sound task: two classes (three for CV), every class in every split, no
    item in two splits."""
    if suite == "cv":
        rng = np.random.default_rng(0)
        for i, (split, n) in enumerate((("train", 30), ("valid", 12), ("test", 12))):
            images = rng.integers(0, 256, size=(n, 8, 8), dtype=np.uint8)
            images[:, 0, 0] = i  # no image is in two splits
            labels = np.array(["boot", "coat", "shirt"] * (n // 3))
            write_npz(folder / "data" / f"{split}.npz", images=images, labels=labels)
        return
    for i, (split, n) in enumerate((("train", 30), ("valid", 10), ("test", 10))):
        classes = ["stay", "leave"] * (n // 2)
        if suite == "tabular":
            frame = pd.DataFrame({"tenure": [f"{i * 100 + r}.5" for r in range(n)],
                                  "plan": ["basic", "premium"] * (n // 2), label: classes})
        else:
            frame = pd.DataFrame({"text": [f"review {i}-{r}: the service was {c}" for r, c in enumerate(classes)],
                                  label: classes})
        frame.to_csv(folder / "data" / f"{split}.csv", index=False, lineterminator="\n")


def edit_spec(folder: Path, change) -> None:
    spec = yaml.safe_load((folder / "task.yaml").read_text())
    change(spec)
    (folder / "task.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def rehash_all(folder: Path) -> None:
    def pin(spec):
        for split in ("train", "valid", "test"):
            spec["data"][split]["sha256"] = sha256_file(folder / spec["data"][split]["path"])
    edit_spec(folder, pin)


def write_candidate_text(folder: Path) -> None:
    def text(spec):
        spec.update(title="Churn - flag the customers who will leave", description="Predict whether a customer "
                    "leaves; leave is the positive class.")
        spec["data"].update(source="made up for the grader's tests", licence="CC0-1.0; see data/LICENSE.md")
    edit_spec(folder, text)
    (folder / "README.md").write_text("# Churn\n\nThe task statement.\n")
    (folder / "data" / "LICENSE.md").write_text("# Data\n\nMade up for the tests; CC0-1.0.\n")


def authored(tmp_path: Path, suite: str) -> Path:
    """A scaffolded task the way an author finishes it: data, task.yaml filled in, checksums pinned."""
    folder = scaffold(f"{suite}/churn", suite, tmp_path / "tasks", LOCK_FILE)
    write_split_files(folder, suite)

    def spec_for_data(spec):
        if suite == "cv":
            spec.update(image_shape=[8, 8], classes=["boot", "coat", "shirt"])
        else:
            spec.update(label_column="churned", classes=["stay", "leave"], positive_class="leave")
        if suite == "tabular":
            spec["feature_columns"] = ["tenure", "plan"]
    edit_spec(folder, spec_for_data)
    write_candidate_text(folder)
    rehash_all(folder)
    return folder


@pytest.mark.parametrize("suite", ["tabular", "nlp", "cv"])
def test_a_finished_scaffold_is_sound(tmp_path, suite):
    assert failing(validate(authored(tmp_path, suite))) == {}


def test_halfway_through_the_doc_the_label_column_is_a_finding_not_a_traceback(tmp_path):
    """The issue's report: the scaffold says `label`, the data says otherwise."""
    folder = scaffold("tabular/churn", "tabular", tmp_path / "tasks", LOCK_FILE)
    write_split_files(folder, "tabular")
    edit_spec(folder, lambda s: s.update(feature_columns=["tenure", "plan"]))
    pinned = failing(validate(folder))["data train"]
    assert pinned == ("data/train.csv exists, but task.yaml still pins the scaffold's placeholder data.train.sha256 "
                      f"(00000000...): set data.train.sha256 in task.yaml to {sha256_file(folder / 'data/train.csv')}"
                      ", the file's sha256")
    rehash_all(folder)
    done = subprocess.run([sys.executable, "-m", "grader", "task", "validate", str(folder), "--no-grade"],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "400"})
    assert done.returncode == 1 and "Traceback" not in done.stderr + done.stdout, done.stderr
    assert "0 of 1 task(s) sound" in done.stdout
    problems = failing(validate(folder))
    assert "data/train.csv (data.train.path) has no column 'label', which label_column in task.yaml names" \
        in problems["format"]
    assert "set label_column: churned" in problems["format"]


def _set(split: str, column: str, row: int, value: str):
    def change(folder: Path) -> None:
        path = folder / "data" / f"{split}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[row, column] = value
        frame.to_csv(path, index=False, lineterminator="\n")
    return change


def _labels(split: str, values: list[str] | None = None, *, array: np.ndarray | None = None):
    def change(folder: Path) -> None:
        if array is not None:
            arrays = read_npz(folder / "data" / f"{split}.npz")
            write_npz(folder / "data" / f"{split}.npz", images=arrays["images"], labels=array)
            return
        path = folder / "data" / f"{split}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["churned"] = (values * len(frame))[:len(frame)]
        frame.to_csv(path, index=False, lineterminator="\n")
    return change


def _images(split: str, transform):
    def change(folder: Path) -> None:
        arrays = read_npz(folder / "data" / f"{split}.npz")
        write_npz(folder / "data" / f"{split}.npz", images=transform(arrays["images"]), labels=arrays["labels"])
    return change


def _header_only(split: str):
    def change(folder: Path) -> None:
        path = folder / "data" / f"{split}.csv"
        path.write_text(path.read_text().splitlines()[0] + "\n")
    return change


def _spec(change_spec):
    return lambda folder: edit_spec(folder, change_spec)


def _rename(split: str, old: str, new: str):
    def change(folder: Path) -> None:
        path = folder / "data" / f"{split}.csv"
        pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns={old: new}).to_csv(
            path, index=False, lineterminator="\n")
    return change


# (suite, the mistake, the failing check, what its message must say: the file, the field and the fix)
MISTAKES = {
    "label column missing": ("tabular", _spec(lambda s: s.update(label_column="label")), "format",
                             ["data/valid.csv (data.valid.path)", "has no column 'label'", "label_column",
                              "set label_column: churned"]),
    "feature column missing from a split": ("tabular", _rename("test", "plan", "Plan"), "format",
                                            ["data/test.csv (data.test.path)", "no column(s) ['plan']",
                                             "feature_columns", "['Plan'] that are neither feature_columns",
                                             "add them to feature_columns, or drop them in make_splits.py"]),
    "feature column named in task.yaml only": ("tabular", _spec(lambda s: s.update(feature_columns=[
        "tenure", "plan", "region"])), "format", ["data/train.csv", "no column(s) ['region']", "feature_columns",
                                                   "write these columns in make_splits.py"]),
    "text in a numeric feature": ("tabular", _set("valid", "tenure", 3, "n/a"), "format",
                                  ["data/valid.csv", "feature column 'tenure' holds numbers, but row 4 holds 'n/a'",
                                   "write numbers only, with an empty cell for a missing value"]),
    "floats as labels where classes are names": ("tabular", _labels("train", ["0.0", "1.0"]), "classes",
                                                 ["data/train.csv", "labels ['0.0', '1.0']", "label_column",
                                                  "the labels are numbers, the classes names",
                                                  "write each label as its class name in make_splits.py"]),
    "labels written as floats of the classes": ("tabular", lambda f: (
        _labels("train", ["0.0", "1.0"])(f), _labels("valid", ["0", "1"])(f), _labels("test", ["0", "1"])(f),
        edit_spec(f, lambda s: s.update(classes=["0", "1"], positive_class="1"))), "classes",
        ["data/train.csv", "written as floats", "'0.0'", ".astype(int)"]),
    "a split with a header and no rows": ("tabular", _header_only("valid"), "format",
                                          ["data/valid.csv (data.valid.path) has a header but no rows",
                                           "make_splits.py"]),
    "a split file of zero bytes": ("nlp", lambda f: (f / "data" / "test.csv").write_text(""), "data test",
                                   ["data/test.csv (data.test.path) is empty", "re-run make_splits.py"]),
    "a class absent from one split": ("tabular", _labels("test", ["stay"]), "classes",
                                      ["data/test.csv has no item of class ['leave']", "classes in task.yaml",
                                       "split stratified on the label in make_splits.py"]),
    "the positive class absent from one split": ("nlp", _labels("test", ["stay"]), "positive class",
                                                 ["'leave' (positive_class in task.yaml) is missing from test "
                                                  "(data/test.csv)", "set positive_class"]),
    "classes that do not match the labels": ("nlp", _spec(lambda s: s.update(classes=["stay", "go"],
                                                                               positive_class="go")), "classes",
                                             ["data/train.csv: labels ['leave'] in column 'churned' (label_column) "
                                              "are not among classes ['stay', 'go'] in task.yaml",
                                              "add them to classes, or fix the labels"]),
    "the text column missing": ("nlp", _rename("train", "text", "review"), "format",
                                ["data/train.csv", "has no column 'text'", "name the text's column 'text'"]),
    "a positive class not among the classes": ("tabular", _spec(lambda s: s.update(positive_class="churn")),
                                               "spec", ["task.yaml", "'positive_class': positive_class 'churn' is "
                                                        "not one of classes ['stay', 'leave']",
                                                        "set it to the class that matters"]),
    "a field of the wrong type": ("tabular", _spec(lambda s: s.update(classes="stay, leave")), "spec",
                                  ["task.yaml", "'classes': Input should be a valid list", "grader schema task"]),
    "an unknown field": ("tabular", _spec(lambda s: s.update(clases=s.pop("classes"))), "spec",
                         ["task.yaml", "unknown key 'clases'", "did you mean clases -> classes?"]),
    "images of the wrong dtype": ("cv", _images("valid", lambda x: x.astype(np.float64) / 255), "format",
                                  ["data/valid.npz (data.valid.path): images are float64, expected uint8",
                                   "astype(numpy.uint8)"]),
    "images of the wrong shape": ("cv", _images("train", lambda x: np.repeat(x, 2, axis=2)), "format",
                                  ["data/train.npz (data.train.path): each image is [8, 16], but image_shape in "
                                   "task.yaml is [8, 8]", "set image_shape: [8, 16]"]),
    "numbers as CV labels where classes are names": ("cv", _labels("test", array=np.tile(np.arange(3), 4)),
                                                     "classes", ["data/test.npz", "the 'labels' array",
                                                                 "the labels are numbers, the classes names"]),
    "a CV split without labels": ("cv", lambda f: write_npz(f / "data" / "valid.npz", images=read_npz(
        f / "data" / "valid.npz")["images"]), "format", ["data/valid.npz", "has no array(s) ['labels']",
                                                         "grader.data.files.write_npz(path, images=..., labels=...)"]),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_every_author_mistake_is_a_finding_naming_file_field_and_fix(tmp_path, mistake):
    suite, make, check, says = MISTAKES[mistake]
    folder = authored(tmp_path, suite)
    make(folder)
    if check != "spec":
        rehash_all(folder)
    problems = failing(validate(folder))
    assert check in problems, problems
    for words in says:
        assert words in problems[check], f"{words!r} not in {problems[check]!r}"


def test_an_example_without_an_answer_section_is_said_as_a_warning(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    answers = folder / "examples" / "reference" / "ANSWERS.md"
    text = answers.read_text()
    answers.write_text(text.replace("## drift-monitoring", "## drift"))
    found = {f.check: f for f in validate(folder)}
    example = found["example reference"]
    assert example.ok, "a missing section is a warning, not a broken contract"
    assert "warnings: ANSWERS.md has no '## drift-monitoring' section" in example.message
