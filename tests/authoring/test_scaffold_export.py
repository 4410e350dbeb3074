"""Scaffolding a task and exporting the candidates' starter kit."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from grader.authoring.export import export
from grader.authoring.scaffold import placeholders, scaffold
from grader.authoring.validate import validate
from grader.data.files import read_npz
from grader.errors import GraderError, SpecError
from grader.sandbox.docker.image import LOCK_FILE
from grader.spec.task import discover_tasks, get_task, load_task
from grader.submission.validate import validate as contract


@pytest.mark.parametrize("suite", ["tabular", "nlp", "cv"])
def test_a_new_task_loads_and_validation_says_what_is_missing(tmp_path, suite):
    folder = scaffold(f"{suite}/my-task", suite, tmp_path, LOCK_FILE)
    task = load_task(folder)
    assert task.id == f"{suite}/my-task" and task.rubric.name == "ml-engineer"
    for name in ("README.md", "make_splits.py", "data/LICENSE.md", "examples/reference/train.py",
                 "examples/baseline/ANSWERS.md"):
        assert (folder / name).is_file(), name
    assert "## drift-monitoring" in (folder / "README.md").read_text()
    findings = {f.check: f for f in validate(folder)}
    assert not findings["data train"].ok and "run the task's make_splits.py" in findings["data train"].message
    assert findings["example reference"].ok and findings["example baseline"].ok


def test_scaffold_refuses_bad_ids_and_existing_folders(tmp_path):
    with pytest.raises(GraderError, match="must start with its suite"):
        scaffold("nlp/x", "cv", tmp_path, LOCK_FILE)
    with pytest.raises(GraderError, match="is not '<suite>/<name>'"):
        scaffold("NLP/Bad Name", "nlp", tmp_path, LOCK_FILE)
    scaffold("nlp/x", "nlp", tmp_path, LOCK_FILE)
    with pytest.raises(GraderError, match="already exists"):
        scaffold("nlp/x", "nlp", tmp_path, LOCK_FILE)


def _hidden_needles(task) -> tuple[list[bytes], set[str]]:
    """Byte strings only the hidden split has (rows, texts), and its image hashes."""
    if task.suite == "cv":
        images = read_npz(task.data_path("test"))["images"]
        return [], {hashlib.sha256(img.tobytes()).hexdigest() for img in images}
    lines = task.data_path("test").read_bytes().splitlines()[1:]
    public = set(task.data_path("train").read_bytes().splitlines()) | set(task.data_path("valid").read_bytes()
                                                                           .splitlines())
    return [line for line in lines if line not in public and len(line) > 20], set()


@pytest.mark.parametrize("task_id", sorted(discover_tasks()))
def test_the_starter_kit_holds_no_hidden_data(tmp_path, task_id):
    task = get_task(task_id)
    files = export(task, tmp_path / "kit", LOCK_FILE)
    names = {p.relative_to(tmp_path / "kit").as_posix() for p in files}
    assert {"README.md", "QUESTIONS.md", "RUNTIME.txt", "data/task.json", "submission/submission.yaml",
            "submission/ANSWERS.md"} <= names
    assert not any("test" in n for n in names)
    needles, image_hashes = _hidden_needles(task)
    assert needles or image_hashes
    test_sha = hashlib.sha256(task.data_path("test").read_bytes()).hexdigest()
    for path in files:
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() != test_sha
        assert not any(needle in data for needle in needles), f"a hidden row is in {path}"
        if path.suffix == ".npz":
            kit_images = read_npz(path)["images"]
            assert not {hashlib.sha256(np.ascontiguousarray(i).tobytes()).hexdigest() for i in kit_images} \
                & image_hashes
    info = json.loads((tmp_path / "kit" / "data" / "task.json").read_text())
    assert info == json.loads(json.dumps(task.public_info))
    assert contract(tmp_path / "kit" / "submission", expected_task=task_id, known_tasks={task_id}).ok
    with pytest.raises(GraderError, match="not empty"):
        export(task, tmp_path / "kit", LOCK_FILE)


SCAFFOLD_TODOS = ["task.yaml title", "task.yaml description", "task.yaml data.source", "task.yaml data.licence",
                  "README.md line 3", "data/LICENSE.md line 3"]


@pytest.mark.parametrize("suite", ["tabular", "nlp", "cv"])
def test_the_scaffolds_todo_text_is_found_in_every_candidate_facing_place(tmp_path, suite):
    folder = scaffold(f"{suite}/my-task", suite, tmp_path, LOCK_FILE)
    assert [str(p) for p in placeholders(load_task(folder))] == SCAFFOLD_TODOS
    finding = {f.check: f for f in validate(folder)}["candidate text"]
    assert not finding.ok and finding.message.startswith("the scaffold's TODO text is still in " +
                                                          ", ".join(SCAFFOLD_TODOS))
    assert "write the text candidates read" in finding.message


def test_a_task_with_placeholder_text_is_not_sound_until_each_place_is_written(tmp_path):
    from tests.authoring.test_validate import authored, failing

    folder = authored(tmp_path, "tabular")
    assert failing(validate(folder)) == {}
    (folder / "README.md").write_text("# Churn\n\nTODO: say what counts\n")
    (folder / "data" / "LICENSE.md").unlink()
    problems = failing(validate(folder))
    assert set(problems) == {"candidate text"}
    assert "still in README.md line 3, data/LICENSE.md is missing:" in problems["candidate text"]


def test_export_refuses_placeholder_text_naming_what_is_left(tmp_path):
    from tests.authoring.test_validate import authored

    folder = authored(tmp_path, "nlp")
    (folder / "task.yaml").write_text((folder / "task.yaml").read_text().replace(
        "Churn - flag the customers who will leave", "TODO - one line"))
    with pytest.raises(SpecError) as err:
        export(load_task(folder), tmp_path / "kit", LOCK_FILE)
    assert err.value.message == "task nlp/churn is not ready for candidates: the scaffold's TODO text is still in " \
                                "task.yaml title"
    assert "write the text candidates read" in err.value.hint
    assert not (tmp_path / "kit").exists()


def test_export_command_refuses_a_fresh_scaffold_with_the_spec_exit_code(tmp_path):
    scaffold("cv/my-task", "cv", tmp_path, LOCK_FILE)
    done = subprocess.run([sys.executable, "-m", "grader", "task", "export", "cv/my-task", "--out",
                           str(tmp_path / "kit")], capture_output=True, text=True,
                          env={**os.environ, "GRADER_TASKS_DIR": str(tmp_path), "COLUMNS": "400"})
    assert done.returncode == SpecError.exit_code == 4, done.stderr
    assert "Traceback" not in done.stderr
    assert "task cv/my-task is not ready for candidates: the scaffold's TODO text is still in task.yaml title" \
        in done.stderr
    assert not (tmp_path / "kit").exists()
