"""``grader check``: the candidate's self-check runs in the sandbox on the public validation split only."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from grader.grading.pipeline import Grader
from tests.authoring.test_validate import copy_task, rehash
from tests.helpers import EXAMPLES, QUICK_LATENCY

pytestmark = pytest.mark.docker


def test_check_scores_on_validation_and_never_reads_the_hidden_split(docker_box, tmp_path):
    folder = copy_task("tabular/credit-default", tmp_path)
    # The hidden split is cut to 10 rows (checksum updated): a check that used it would score 10 items.
    test = pd.read_csv(folder / "data" / "test.csv", dtype=str, keep_default_na=False).head(10)
    test.to_csv(folder / "data" / "test.csv", index=False, lineterminator="\n")
    rehash(folder, "test")
    grader = Grader(docker_box, tasks_root=tmp_path / "tasks", check=True,
                    task_overrides={"latency": QUICK_LATENCY})
    report = grader.grade(EXAMPLES / "reference", out_dir=tmp_path / "out")
    assert report.status == "graded" and report.failures == [] and report.evaluated_on == "valid"
    assert sum(map(sum, report.confusion_matrix["matrix"])) == 891  # the validation split's size
    assert report.metrics["recall"] > 0.5 and report.latency.measured
    assert report.rubric is None and report.reproducibility.runs == 1 and set(report.phases) == {"train", "predict"}
    assert report.self_check == []  # the reference has a Dockerfile that builds, a README, tests and answers


def test_check_command_lists_what_to_fix(tmp_path):
    sub = tmp_path / "sub"
    subprocess.run([sys.executable, "-m", "grader", "task", "export", "tabular/credit-default", "--out",
                    str(tmp_path / "kit")], check=True, capture_output=True)
    (tmp_path / "kit" / "submission").rename(sub)
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(sub), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SELF-CHECK: RUNS" in done.stdout and "not a grade" in done.stdout
    assert "ANSWERS.md has no answer under '## drift-monitoring'" in done.stdout
    assert "no Dockerfile" in done.stdout
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["evaluated_on"] == "valid" and saved["rubric"] is None and len(saved["self_check"]) >= 6
