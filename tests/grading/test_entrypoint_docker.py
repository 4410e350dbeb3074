"""The predict entry point end to end in the real Docker sandbox (issue 13): a typo is found at contract time,
before any training; an entry point that exists but fails at prediction is reported as what happened."""

from __future__ import annotations

import pytest

from grader.grading.pipeline import Grader
from tests.helpers import MINI_MODEL, QUICK_LATENCY, TASK_ID, make_submission, tasks_copy

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]


@pytest.fixture(scope="module")
def fast_tasks(tmp_path_factory):
    return tasks_copy(tmp_path_factory.mktemp("tasks"), latency=QUICK_LATENCY, train_timeout_s=60,
                      predict_timeout_s=90, memory_mb=384, pids=48, artifacts_mb=8)


def test_a_typo_in_the_entry_point_is_invalid_before_training(docker_box, fast_tasks, tmp_path):
    manifest = f"task: {TASK_ID}\ntrain: python train.py\npredict: model:lod\n"
    report = Grader(docker_box, tasks_root=fast_tasks).grade(make_submission(tmp_path / "s", manifest=manifest),
                                                              out_dir=tmp_path / "out")
    assert report.status == "invalid" and report.exit_code == 3
    assert report.phases == {}, "nothing may train when the entry point cannot be found"
    messages = " ".join(f.message for f in report.failures)
    assert "model.py defines no top-level 'lod'; did you mean 'load'?" in messages


def test_an_entry_point_that_fails_at_prediction_says_training_finished(docker_box, fast_tasks, tmp_path):
    model = MINI_MODEL.replace("def load(artifacts_dir):", "def load(artifacts_dir):\n    raise ValueError('no')")
    out = tmp_path / "out"
    report = Grader(docker_box, tasks_root=fast_tasks).grade(make_submission(tmp_path / "s", model=model),
                                                              out_dir=out)
    assert report.status == "graded" and report.phases["train"].exit_code == 0
    assert [f.phase for f in report.failures] == ["predict"]
    rep = report.reproducibility
    assert rep.training_runs[0].artifacts_files == 1 and rep.artifacts_empty is False
    assert rep.explanation[0] == "training finished but prediction failed, so there are no predictions to compare"
    assert report.rubric is not None
    trained_here = next(c for s in report.rubric.sections for c in s.criteria if c.id == "trained-here")
    assert trained_here.points == 0 and trained_here.explanation == (
        "training saved files to /artifacts, but prediction failed, so whether prediction uses the model trained "
        "here could not be checked")
    for name in ("report.md", "report.json", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "no training run finished" not in text, name
