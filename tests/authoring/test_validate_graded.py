"""``grader task validate`` with grading, in the real Docker sandbox: how CI proves every bundled task
sound (its reference passes and its baseline fails), and that a broken reference is caught."""

from __future__ import annotations

import shutil

import pytest

from grader.authoring.validate import validate
from grader.spec.task import discover_tasks, tasks_dir
from tests.authoring.test_validate import copy_task, failing

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.usefixtures("nothing_left")]


@pytest.mark.parametrize("task_id", sorted(discover_tasks()))
def test_every_bundled_task_is_sound_when_graded(docker_box, task_id):
    findings = validate(tasks_dir() / task_id, sandbox=docker_box)
    assert failing(findings) == {}
    graded = {f.check: f.message for f in findings if f.check.startswith("graded")}
    assert graded["graded reference"].startswith("passes with")
    assert graded["graded baseline"].startswith("does not pass with")


def test_a_reference_that_no_longer_passes_is_named(docker_box, tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    for name in ("train.py", "model.py"):  # the reference now learns the majority class only
        shutil.copyfile(folder / "examples" / "baseline" / name, folder / "examples" / "reference" / name)
    problems = failing(validate(folder, sandbox=docker_box))
    assert set(problems) == {"graded reference"}
    assert problems["graded reference"].startswith("the reference must pass but does not pass with")
    assert "recall >= 0.6 is required to pass" in problems["graded reference"]
