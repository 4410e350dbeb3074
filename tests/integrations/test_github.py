"""``grader grade --ci``: GitHub workflow commands, the job summary, JUnit and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from grader.integrations import github as ci
from grader.report.format import points
from grader.spec.report import Failure, Report, RubricResult, TaskRef
from tests.helpers import QUICK_LATENCY, make_submission, tasks_copy

GRADER = [sys.executable, "-m", "grader"]


def test_workflow_commands_are_escaped_as_github_documents():
    line = ci.command("error", "50% done\nnext: line", title="a: b, c", file="sub/train.py")
    assert line == "::error file=sub/train.py,title=a%3A b%2C c::50%25 done%0Anext: line"
    assert ci.command("notice", "plain") == "::notice::plain"


def test_every_failure_and_the_verdict_become_annotations(tmp_path):
    (tmp_path / "train.py").write_text("")
    report = Report(status="error", task=TaskRef(id="t/x"), failures=[
        Failure(phase="train", kind="oom", message="training ran out of memory"),
        Failure(phase="grader", kind="sandbox_error", message="engine gone")], warnings=["careful"])
    lines = ci.workflow_commands(report, tmp_path)
    assert lines[0] == f"::error file={tmp_path}/train.py,title=grader%3A train oom::training ran out of memory"
    assert lines[1] == "::error title=grader%3A grader sandbox_error::engine gone"
    assert lines[2] == "::warning title=grader::careful"
    assert lines[-1] == "::notice title=grader::t/x: grading error, score 0/100"


def test_not_passing_says_why_and_annotations_are_capped():
    rubric = RubricResult(id="r", version=1, title="R", pass_mark=60, total=40, automatic_total=40, passed=False,
                          automatic_passed=False, sections=[], not_passed_because=["score 40.0 < pass mark 60"])
    report = Report(status="graded", score=40, task=TaskRef(id="t/x"), rubric=rubric,
                    warnings=[f"w{i}" for i in range(20)])
    lines = ci.workflow_commands(report)
    assert lines[0] == "::error title=grader%3A not passed (40/100)::score 40.0 < pass mark 60"
    assert len(lines) == ci.MAX_ANNOTATIONS + 1 and "12 more findings" in lines[-2]  # 21 - 9 shown


def test_the_summary_is_appended_not_overwritten(tmp_path, monkeypatch):
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert ci.append_summary("**grader**: passed\n") == target
    assert target.read_text() == "# earlier step\n**grader**: passed\n\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert ci.append_summary("x") is None


@pytest.mark.docker
@pytest.mark.slow
def test_grade_ci_on_a_crashing_submission(tmp_path):
    tasks = tasks_copy(tmp_path / "tasks", latency=QUICK_LATENCY, reproducibility={"runs": 1})
    sub = make_submission(tmp_path / "s", train="raise SystemExit('no data here')\n")
    summary = tmp_path / "summary.md"
    env = {**os.environ, "GRADER_TASKS_DIR": str(tasks), "GITHUB_STEP_SUMMARY": str(summary), "COLUMNS": "160"}
    result = subprocess.run([*GRADER, "grade", str(sub), "--out", str(tmp_path / "out"), "--ci", "--no-mlflow"],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr  # graded, with a failure: not passed
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    commands = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert commands[0].startswith(f"::error file={sub}/train.py,title=grader%3A train crash::training failed")
    assert "%0ASystemExit: no data here" in commands[0] or "%0Ano data here" in commands[0]
    assert commands[1].startswith("::error title=grader%3A not passed")
    assert commands[-1] == (f"::notice title=grader::{report['task']['id']}: not passed, "
                            f"score {points(report['score'])}/100")
    assert summary.read_text() == (tmp_path / "out" / "report.md").read_text().rstrip("\n") + "\n\n"
    suite = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert "runs-cleanly" in ET.tostring(suite, encoding="unicode")
