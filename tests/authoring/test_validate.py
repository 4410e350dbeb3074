"""``grader task validate``: sound tasks pass, and each way a task can be broken is named."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from grader.authoring.validate import validate
from grader.data.checksums import sha256_file
from grader.data.files import read_npz, write_npz
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
    assert problems["classes"] == "valid has labels that are not classes: ['ugly']; valid has no item of class ['bad']"
    assert "'bad' is missing from valid" in problems["positive class"]


def test_wrong_columns_are_named_and_stop_the_content_checks(tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    valid = pd.read_csv(folder / "data" / "valid.csv", dtype=str, keep_default_na=False)
    valid.rename(columns={"Price": "price"}).to_csv(folder / "data" / "valid.csv", index=False, lineterminator="\n")
    rehash(folder, "valid")
    problems = failing(validate(folder))
    assert "valid: columns" in problems["format"] and "'price'" in problems["format"]
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
