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
    estimate = report.estimate  # the rubric on the validation figures, as an estimate
    assert estimate is not None and estimate.failing == [] and len(estimate.gates) == 2
    assert {g.figure for g in estimate.gates} == {"recall", "precision"} and all(g.met for g in estimate.gates)
    assert 0 < estimate.score <= 100 - estimate.not_estimated_points and report.exit_code == 0


def test_check_command_fails_the_untouched_template_on_its_gates_and_lists_what_to_fix(tmp_path):
    """The starter kit's majority-class template runs, but its recall of 0 misses the task's gate: exit 1."""
    sub = tmp_path / "sub"
    subprocess.run([sys.executable, "-m", "grader", "task", "export", "tabular/credit-default", "--out",
                    str(tmp_path / "kit")], check=True, capture_output=True)
    (tmp_path / "kit" / "submission").rename(sub)
    done = subprocess.run([sys.executable, "-m", "grader", "check", str(sub), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "SELF-CHECK: PROBLEMS TO FIX" in done.stdout and "not a grade" in done.stdout
    assert "ANSWERS.md has no answer under '## drift-monitoring'" in done.stdout
    assert "no Dockerfile" in done.stdout
    tail = done.stdout[done.stdout.rindex("╯"):]  # after the report, plainly: the gates, then the estimate
    assert "2 gate(s) would fail on the public validation split" in tail
    assert "recall 0.000 on validation, the gate is 0.6, short by 0.600" in tail
    assert "Heading for " in tail and "(public validation split, an estimate, not a grade)" in tail
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["evaluated_on"] == "valid" and saved["rubric"] is None and len(saved["self_check"]) >= 6
    assert "score" not in saved and "passed" not in saved  # a self-check is not "graded, score 0"
    assert {g["figure"] for g in saved["estimate"]["gates"] if not g["met"]} == {"recall", "precision"}
    for name in ("report.md", "report.html"):  # the latency note on repeated inputs names the validation inputs
        text = (tmp_path / "out" / name).read_text(encoding="utf-8").lower()
        assert "hidden-test" not in text and "hidden test" not in text, name
