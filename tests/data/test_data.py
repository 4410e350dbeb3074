"""The task data the grader relies on: checksums verified in one place (grading and ``grader task
validate`` agree), and the public ``/data`` folder built in one place (the training sandbox, the
starter kit and the benchmarks give candidates the same files, never the test split)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from grader.authoring.validate import validate
from grader.data.checksums import check_files, sha256_file, verify_data
from grader.data.public import public_folder
from grader.errors import SpecError
from grader.spec.task import discover_tasks, get_task, load_task
from tests.helpers import tasks_copy


@pytest.fixture()
def task_folder(tmp_path) -> Path:
    root = tasks_copy(tmp_path / "tasks")
    return next(p for p in root.glob("*/*") if (p / "task.yaml").is_file())


def test_sha256_file_is_the_files_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert sha256_file(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_intact_data_passes(task_folder):
    task = load_task(task_folder)
    assert [c.split for c in check_files(task)] == ["train", "valid", "test"]
    assert all(c.ok and not c.missing for c in check_files(task))
    verify_data(task)


def test_a_changed_file_is_refused_by_grading_and_by_validation_alike(task_folder):
    task = load_task(task_folder)
    with open(task.data_path("valid"), "ab") as fh:
        fh.write(b"\n")
    checks = {c.split: c for c in check_files(task)}
    assert not checks["valid"].ok and checks["valid"].actual == sha256_file(task.data_path("valid"))
    assert checks["train"].ok and checks["test"].ok
    with pytest.raises(SpecError, match="valid.csv does not match its sha256") as err:
        verify_data(task)
    assert err.value.hint and "restore" in err.value.hint
    found = {f.check: f for f in validate(task_folder)}
    assert not found["data valid"].ok and "does not match its sha256" in found["data valid"].message
    assert found["data train"].ok and found["data test"].ok


def test_a_missing_file_is_named(task_folder):
    task = load_task(task_folder)
    task.data_path("test").unlink()
    assert [c.split for c in check_files(task) if c.missing] == ["test"]
    with pytest.raises(SpecError, match="data file data/test.csv is missing"):
        verify_data(task)
    found = {f.check: f for f in validate(task_folder)}
    assert not found["data test"].ok and "is missing" in found["data test"].message


@pytest.mark.parametrize("task_id", sorted(discover_tasks()))
def test_the_public_folder_is_task_json_and_the_public_splits(tmp_path, task_id):
    task = get_task(task_id)
    folder = public_folder(task, tmp_path / "data")
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(["task.json", Path(task.data.train.path).name, Path(task.data.valid.path).name])
    assert json.loads((folder / "task.json").read_text(encoding="utf-8")) == json.loads(json.dumps(task.public_info))
    for split in ("train", "valid"):
        assert sha256_file(folder / Path(getattr(task.data, split).path).name) == getattr(task.data, split).sha256
    assert task.data.test.sha256 not in {sha256_file(p) for p in folder.iterdir()}


def test_a_checksum_mismatch_shows_both_hashes_in_full_and_the_fix(task_folder):
    task = load_task(task_folder)
    pinned = task.data.valid.sha256
    with open(task.data_path("valid"), "ab") as fh:
        fh.write(b"\n")
    found = sha256_file(task.data_path("valid"))
    with pytest.raises(SpecError) as err:
        verify_data(task)
    assert f"task.yaml pins data.valid.sha256 = {pinned}, the file has {found}" in err.value.message
    assert "re-run the task's make_splits.py" in err.value.hint
    assert f"set data.valid.sha256 in task.yaml to {found}" in err.value.hint
    finding = {f.check: f for f in validate(task_folder)}["data valid"]
    assert f"task.yaml pins data.valid.sha256 = {pinned}, the file has {found}" in finding.message
    assert f"set data.valid.sha256 in task.yaml to {found}" in finding.message


def _without_label_column(tmp_path: Path):
    from tests.authoring.test_validate import authored, edit_spec

    folder = authored(tmp_path, "tabular")
    edit_spec(folder, lambda s: s.update(label_column="label"))  # the scaffold's name; the data says churned
    return folder


def test_the_split_reader_refuses_a_missing_column_with_a_spec_error_not_a_key_error(tmp_path):
    from grader.data import splits

    task = load_task(_without_label_column(tmp_path))
    for read in (lambda: splits.labels(task, "test"), lambda: splits.write_inputs(task, "test", tmp_path / "in"),
                 lambda: splits.item_keys(task, "train")):
        with pytest.raises(SpecError) as err:
            read()
        assert not isinstance(err.value, KeyError)
        assert "has no column 'label', which label_column in task.yaml names" in err.value.message
        assert "set label_column: churned" in err.value.message and "grader task validate" in err.value.hint


def test_a_grading_on_a_task_whose_split_lacks_a_column_is_an_error_report_that_says_why(tmp_path):
    """The real pipeline (the local backend: nothing runs before the data are read): a clear error, not
    "internal grader error: KeyError"."""
    from grader.grading.pipeline import Grader
    from grader.sandbox import get_backend

    folder = _without_label_column(tmp_path)
    with pytest.warns(Warning, match="does NOT isolate"):
        box = get_backend("local")
    try:
        report = Grader(box, tasks_root=tmp_path / "tasks").grade(folder / "examples" / "reference")
    finally:
        box.close()
    assert report.status == "error"
    message = report.failures[0].message
    assert "internal grader error" not in message and "KeyError" not in message
    assert "task tabular/churn" in message and "data/test.csv (data.test.path) has no column 'label'" in message
