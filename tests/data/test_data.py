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
